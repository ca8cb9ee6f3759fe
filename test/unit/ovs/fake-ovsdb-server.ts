import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { JsonStreamSplitter } from '../../../src/ovs/ovsdb/index.js';

export interface FakeRequest {
  id: unknown;
  method: string;
  params: unknown[];
}

/** What the server does with a request: a reply, or undefined to hold it (reply later). */
export type Responder = (
  req: FakeRequest,
  conn: FakeConnection,
) => { result?: unknown; error?: unknown } | undefined;

export class FakeConnection {
  /** Every message the client sent on this connection (requests and replies). */
  readonly received: Record<string, unknown>[] = [];
  private readonly waiters: (() => void)[] = [];

  constructor(readonly socket: net.Socket) {}

  send(msg: unknown): void {
    this.socket.write(JSON.stringify(msg));
  }

  sendRaw(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  reply(id: unknown, result: unknown, error: unknown = null): void {
    this.send({ id, result, error });
  }

  destroy(): void {
    this.socket.destroy();
  }

  requests(method?: string): FakeRequest[] {
    return this.received
      .filter((m) => typeof m.method === 'string' && m.id !== null && m.id !== undefined)
      .map((m) => m as unknown as FakeRequest)
      .filter((m) => method === undefined || m.method === method);
  }

  /** Resolves once a message matching pred has arrived (checks those already in). */
  async waitFor(
    pred: (m: Record<string, unknown>) => boolean,
    timeoutMs = 2000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.received.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline)
        throw new Error(`fake ovsdb: no matching message in ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 20);
      });
    }
  }

  onMessage(m: Record<string, unknown>): void {
    this.received.push(m);
    for (const w of this.waiters.splice(0)) w();
  }
}

/** A scriptable ovsdb-server stand-in on a temp unix socket (hermetic, no daemon). */
export class FakeOvsdbServer {
  readonly connections: FakeConnection[] = [];
  responder: Responder = defaultResponder;
  private constructor(
    private readonly server: net.Server,
    private readonly dir: string,
    readonly socketPath: string,
  ) {}

  get endpoint(): string {
    return `unix:${this.socketPath}`;
  }

  static async start(): Promise<FakeOvsdbServer> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'oo-fake-ovsdb-'));
    const socketPath = path.join(dir, 'db.sock');
    const server = net.createServer();
    const fake = new FakeOvsdbServer(server, dir, socketPath);
    server.on('connection', (s) => fake.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    return fake;
  }

  /** The n-th connection (0-based), waiting for it to arrive. */
  async connection(n: number, timeoutMs = 3000): Promise<FakeConnection> {
    const deadline = Date.now() + timeoutMs;
    while (this.connections.length <= n) {
      if (Date.now() > deadline)
        throw new Error(`fake ovsdb: no connection #${n} in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.connections[n]!;
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private accept(socket: net.Socket): void {
    const conn = new FakeConnection(socket);
    this.connections.push(conn);
    const splitter = new JsonStreamSplitter();
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      try {
        splitter.push(chunk, (v) => {
          const m = v as Record<string, unknown>;
          conn.onMessage(m);
          if (typeof m.method === 'string' && m.id !== null && m.id !== undefined) {
            const r = this.responder(
              { id: m.id, method: m.method, params: (m.params as unknown[]) ?? [] },
              conn,
            );
            if (r) conn.send({ id: m.id, result: r.result ?? null, error: r.error ?? null });
          }
        });
      } catch {
        socket.destroy();
      }
    });
  }
}

/** list_dbs, echo, monitor/monitor_cond (empty initial state), monitor_cancel, transact of []. */
export const defaultResponder: Responder = (req) => {
  switch (req.method) {
    case 'list_dbs':
      return { result: ['Open_vSwitch', '_Server'] };
    case 'echo':
      return { result: req.params };
    case 'monitor':
    case 'monitor_cond':
      return { result: {} };
    case 'monitor_cancel':
      return { result: {} };
    case 'transact':
      return { result: req.params.slice(1).map(() => ({})) };
    default:
      return { error: 'unknown method' };
  }
};
