import { createServer, type Server } from 'node:http';
import { errorMessage, type Logger } from '../sys/index.js';
import type { AgentMetrics } from './metrics.js';

/**
 * The metrics listener: GET /metrics (Prometheus text), /livez (the agent answers),
 * /healthz (ready = OVSDB connected),
 * /status (the node status JSON, the same document as the CNI socket's /api/v1/state).
 */
export class MetricsServer {
  private server: Server | null = null;

  constructor(
    private readonly listen: string,
    private readonly metrics: AgentMetrics,
    private readonly status: () => Promise<unknown>,
    private readonly healthy: () => boolean,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const m = /^\[?(.+?)\]?:(\d+)$/.exec(this.listen);
    if (!m?.[1] || !m[2]) throw new Error(`metrics.listen ${this.listen}: not HOST:PORT`);
    const host = m[1];
    const port = Number(m[2]);
    const server = createServer((req, res) => {
      const send = (code: number, type: string, body: string) => {
        res.writeHead(code, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      (async () => {
        if (req.method !== 'GET') return send(405, 'text/plain', 'GET only\n');
        switch (req.url?.split('?')[0]) {
          case '/metrics':
            return send(
              200,
              this.metrics.registry.contentType,
              await this.metrics.registry.metrics(),
            );
          case '/livez':
            // The process answers: all a liveness probe should ask. OVSDB being away is not
            // cured by a restart (the client reconnects by itself), so it is not in here.
            return send(200, 'text/plain', 'ok\n');
          case '/healthz':
            return this.healthy()
              ? send(200, 'text/plain', 'ok\n')
              : send(503, 'text/plain', 'OVSDB not connected\n');
          case '/status':
            return send(
              200,
              'application/json',
              JSON.stringify(await this.status(), null, 2) + '\n',
            );
          default:
            return send(404, 'text/plain', 'not found\n');
        }
      })().catch((err: unknown) => {
        this.logger.warn({ err: errorMessage(err), url: req.url }, 'metrics request failed');
        if (!res.headersSent) send(500, 'text/plain', `${errorMessage(err)}\n`);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.logger.info({ listen: this.listen }, 'metrics listening');
  }

  /** The bound port (listen on port 0 in tests). */
  get port(): number | null {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : null;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
