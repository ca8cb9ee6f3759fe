import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { CniCode, type CniError } from '../cni/errors.js';
import { runCni } from '../cni/run.js';
import type { AgentRequest, CniOp, CniResult } from '../cni/types.js';
import { LATEST } from '../cni/version.js';
import { errorMessage, files, sleep, type Logger } from '../sys/index.js';
import { httpStatusOf, toCniError } from './cni-errors.js';
import { splitInvocation } from './cni-invocation.js';
import { DecodeError, NotReadyError, TransientError } from './errors.js';

/** What the CNI server dispatches to (the attachment service). */
export interface CniHandler {
  add(req: AgentRequest): Promise<CniResult>;
  del(req: AgentRequest): Promise<void>;
  check(req: AgentRequest): Promise<void>;
  gc(req: AgentRequest): Promise<void>;
  status(req: AgentRequest): Promise<void>;
  /** GET /api/v1/state: the node status document. */
  state(): Promise<unknown>;
}

export interface RequestObserver {
  (op: CniOp, outcome: 'ok' | 'error', seconds: number, code?: number): void;
}

const RequestSchema = z.object({
  containerID: z.string(),
  netns: z.string(),
  ifName: z.string(),
  args: z.record(z.string(), z.string()),
  path: z.string(),
  config: z.record(z.string(), z.unknown()),
});

const OPS: readonly CniOp[] = ['add', 'del', 'check', 'gc', 'status'];
const MAX_BODY = 1 << 20;

/**
 * HTTP/1.1 on a unix socket (mode 0600: only root may ask the agent to move devices), the
 * Kube-OVN way: POST /api/v1/{add,del,check,gc,status}. Tracks requests in flight so a
 * SIGTERM can stop accepting and let them finish.
 */
export class CniServer {
  private server: Server | null = null;
  private readonly inFlight = new Set<Promise<unknown>>();
  private accepting = true;

  constructor(
    readonly socketPath: string,
    private readonly handler: CniHandler,
    private readonly logger: Logger,
    private readonly observe?: RequestObserver,
  ) {}

  get pending(): number {
    return this.inFlight.size;
  }

  async start(): Promise<void> {
    const dir = this.socketPath.slice(0, this.socketPath.lastIndexOf('/')) || '/';
    await files.mkdir(dir, 0o755);
    // A socket file left by a crashed agent would make listen() fail with EADDRINUSE.
    if (await files.lexists(this.socketPath)) await files.rm(this.socketPath);
    const server = createServer((req, res) => this.onRequest(req, res));
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await files.chmod(this.socketPath, 0o600);
    this.server = server;
    this.logger.info({ socket: this.socketPath }, 'CNI server listening');
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const p = this.route(req, res).catch((err: unknown) => {
      this.logger.error({ err: errorMessage(err) }, 'CNI request failed unexpectedly');
      if (!res.headersSent)
        this.reply(res, 500, { code: CniCode.TryAgainLater, msg: errorMessage(err) });
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private reply(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  private async readBody(req: IncomingMessage): Promise<string> {
    return (await this.readBodyBytes(req)).toString('utf8');
  }

  private async readBodyBytes(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      const b = c as Buffer;
      size += b.length;
      if (size > MAX_BODY) throw new DecodeError('decode request: body too large');
      chunks.push(b);
    }
    return Buffer.concat(chunks);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '';
    if (req.method === 'GET' && url === '/api/v1/state') {
      this.reply(res, 200, await this.handler.state());
      return;
    }
    if (req.method === 'POST' && url === '/api/v1/cni') {
      await this.courier(req, res);
      return;
    }
    const op = /^\/api\/v1\/([a-z]+)$/.exec(url)?.[1] as CniOp | undefined;
    if (req.method !== 'POST' || op === undefined || !OPS.includes(op)) {
      this.reply(res, 404, {
        code: CniCode.InvalidConfig,
        msg: `no such endpoint: ${req.method ?? ''} ${url}`,
      });
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(await this.readBody(req));
    } catch (err) {
      raw =
        err instanceof DecodeError ? err : new DecodeError(`decode request: ${errorMessage(err)}`);
    }
    const out = await this.serve(op, raw);
    if (out.ok) this.reply(res, 200, out.result ? { result: out.result } : {});
    else
      this.reply(res, httpStatusOf(out.error.code), {
        code: out.error.code,
        msg: out.error.message,
        ...(out.error.details ? { details: out.error.details } : {}),
      });
  }

  /**
   * POST /api/v1/cni: a whole plugin invocation carried by the compiled front end
   * (src/cni/native): every CNI_* variable as `NAME=VALUE\0`, an empty one, then the plugin's
   * stdin as it came. The same protocol code the Node front end runs (runCni) checks it here
   * and calls the handler in-process; the answer is the plugin's stdout, byte for byte, with
   * its exit code in `x-cni-exit-code`.
   */
  private async courier(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let env: Record<string, string> = {};
    let stdin: Uint8Array = new Uint8Array(0);
    let framingError: CniError | null = null;
    try {
      ({ env, stdin } = splitInvocation(await this.readBodyBytes(req)));
    } catch (err) {
      framingError = toCniError(err);
    }
    let served = false;
    const out = framingError
      ? { stdout: JSON.stringify(framingError.toJSON(LATEST)) + '\n', code: 1 }
      : await runCni(env, stdin, {
          callAgent: async (_socket, op, body) => {
            served = true;
            const r = await this.serve(op, body);
            if (!r.ok) throw r.error;
            return r.result ?? null;
          },
        });
    if (!served && out.code !== 0) {
      // Refused before the attachment service saw it (the Node front end refuses these
      // without asking the agent): still one line saying what came and why it went back.
      this.logger.warn(
        {
          op: (env.CNI_COMMAND ?? '').toLowerCase().slice(0, 16),
          containerID: env.CNI_CONTAINERID?.slice(0, 128),
          ifName: env.CNI_IFNAME?.slice(0, 32),
          outcome: 'error',
          err: out.stdout.slice(0, 500).trim(),
        },
        'cni request refused',
      );
    }
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(out.stdout),
      'x-cni-exit-code': String(out.code),
      connection: 'close',
    });
    res.end(out.stdout);
  }

  /** One request for the attachment service: checked, dispatched, logged and counted. */
  private async serve(
    op: CniOp,
    raw: unknown,
  ): Promise<{ ok: true; result?: CniResult } | { ok: false; error: CniError }> {
    const started = process.hrtime.bigint();
    let body: AgentRequest | undefined;
    const done = (outcome: 'ok' | 'error', code?: number, msg?: string) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.observe?.(op, outcome, seconds, code);
      // One line per request: what the runtime asked, for which pod, how it ended, how long.
      this.logger[outcome === 'ok' ? 'info' : 'warn'](
        {
          op,
          containerID: body?.containerID,
          ifName: body?.ifName,
          pod: body?.args.K8S_POD_NAME
            ? `${body.args.K8S_POD_NAMESPACE ?? ''}/${body.args.K8S_POD_NAME}`
            : undefined,
          outcome,
          ...(code !== undefined ? { code, err: msg } : {}),
          ms: Math.round(seconds * 1e6) / 1e3,
        },
        'cni request',
      );
    };
    try {
      if (!this.accepting) {
        throw op === 'status'
          ? new NotReadyError('ovs-offload agent is shutting down')
          : new TransientError('ovs-offload agent is shutting down');
      }
      if (raw instanceof DecodeError) throw raw;
      const parsed = RequestSchema.safeParse(raw);
      if (!parsed.success) {
        throw new DecodeError(`decode request: ${parsed.error.issues[0]?.message ?? 'bad shape'}`);
      }
      body = parsed.data;
      let result: CniResult | undefined;
      if (op === 'add') result = await this.handler.add(body);
      else await this.handler[op](body);
      done('ok');
      return result ? { ok: true, result } : { ok: true };
    } catch (err) {
      const e = toCniError(err);
      done('error', e.code, e.message);
      return { ok: false, error: e };
    }
  }

  /** Stops accepting new requests; waits (bounded) for those in flight; closes the socket. */
  async stop(graceMs = 30_000): Promise<void> {
    this.accepting = false;
    const deadline = Date.now() + graceMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) await sleep(20);
    const server = this.server;
    this.server = null;
    if (server) {
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await files.rm(this.socketPath);
  }
}
