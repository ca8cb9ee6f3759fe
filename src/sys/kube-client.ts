import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { z } from 'zod';
import { OvsOffloadError } from './errors.js';
import type { KubeConnection } from './kube-config.js';

/** A response larger than this is refused: a node's pod list is well under it. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** One watch event (a pod object) larger than this ends the watch. */
const MAX_EVENT_BYTES = 4 * 1024 * 1024;
/** A request (not a watch) that takes longer fails; callers retry. */
const REQUEST_TIMEOUT_MS = 30_000;
/** How long a token read from a file is used before it is read again (client-go: a minute). */
const TOKEN_TTL_MS = 60_000;
/**
 * Connections kept to the API server: a burst of pods polls their annotations concurrently,
 * and each TLS connection holds buffers; past this, requests queue.
 */
const MAX_SOCKETS = 16;

/** The API server answered with an error status (or something that is not JSON). */
export class KubeApiError extends OvsOffloadError {
  constructor(
    message: string,
    /** The HTTP status (410: the watch's resourceVersion is gone); null: no answer. */
    readonly statusCode: number | null,
    readonly reason: string | null = null,
  ) {
    super(message);
  }
}

/** metav1.Status, as the API server explains an error. */
const StatusSchema = z.object({
  reason: z.string().optional(),
  message: z.string().optional(),
  code: z.number().optional(),
});

/** One line of a watch stream: `{"type": "...", "object": {...}}`. */
const WatchEventSchema = z.object({ type: z.string().min(1), object: z.unknown() });

export type Query = Record<string, string | boolean | undefined>;

export interface WatchHandle {
  abort(): void;
}

/**
 * JSON over HTTPS to the Kubernetes API server with the connection's credentials: requests,
 * and watches read line by line. Node's own http(s), no generated client: the agent reads
 * one pod, patches its annotations, reads a Subnet and watches its node's pods.
 */
export class KubeClient {
  private readonly agent: http.Agent;
  private cachedToken: { value: string; readAt: number } | null = null;

  constructor(readonly conn: KubeConnection) {
    const tls = conn.server.protocol === 'https:';
    this.agent = tls
      ? new https.Agent({
          keepAlive: true,
          maxSockets: MAX_SOCKETS,
          ...(conn.ca ? { ca: conn.ca } : {}),
          ...(conn.cert && conn.key ? { cert: conn.cert, key: conn.key } : {}),
          rejectUnauthorized: !conn.insecureSkipTlsVerify,
          ...(conn.tlsServerName ? { servername: conn.tlsServerName } : {}),
        })
      : new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  }

  /** GET/PATCH/…: the parsed JSON body, or KubeApiError with the server's Status. */
  async request(
    method: string,
    path: string,
    opts: { query?: Query; body?: unknown; contentType?: string } = {},
  ): Promise<unknown> {
    const what = `${method} ${path}`;
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const res = await this.send(method, path, opts.query, body, opts.contentType, true);
    const text = await readBody(res, what);
    if ((res.statusCode ?? 0) >= 400) throw statusError(what, res.statusCode ?? 0, text);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new KubeApiError(`${what}: the answer is not JSON`, res.statusCode ?? null);
    }
  }

  /**
   * A watch (`watch=true`): each event goes to `onEvent`; `onDone` is called once when the
   * stream ends (null: the server closed it), fails or is aborted. Rejects when the server
   * refuses the watch (410 Gone: the resourceVersion was compacted away).
   */
  async watch(
    path: string,
    query: Query,
    onEvent: (type: string, obj: unknown) => void,
    onDone: (err: Error | null) => void,
  ): Promise<WatchHandle> {
    const what = `watch ${path}`;
    const res = await this.send(
      'GET',
      path,
      { ...query, watch: true },
      undefined,
      undefined,
      false,
    );
    if ((res.statusCode ?? 0) !== 200) {
      throw statusError(what, res.statusCode ?? 0, await readBody(res, what));
    }
    let ended = false;
    const end = (err: Error | null) => {
      if (ended) return;
      ended = true;
      onDone(err);
    };
    let pending = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      if (ended) return;
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (!line) continue;
        const ev = parseEvent(line);
        if (ev instanceof Error) {
          end(new KubeApiError(`${what}: ${ev.message}`, null));
          res.destroy();
          return;
        }
        onEvent(ev.type, ev.object);
        if (ended) return;
      }
      if (pending.length > MAX_EVENT_BYTES) {
        end(new KubeApiError(`${what}: an event larger than ${MAX_EVENT_BYTES} bytes`, null));
        res.destroy();
      }
    });
    res.on('end', () => end(null));
    res.on('error', (err) => end(err));
    res.on('close', () =>
      end(res.complete ? null : new KubeApiError(`${what}: connection lost`, null)),
    );
    return {
      abort() {
        end(new KubeApiError(`${what}: aborted`, null));
        res.destroy();
      },
    };
  }

  /** Frees the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  private authorization(): string | undefined {
    const c = this.conn;
    if (c.tokenFile) {
      const now = Date.now();
      if (!this.cachedToken || now - this.cachedToken.readAt > TOKEN_TTL_MS) {
        this.cachedToken = { value: readFileSync(c.tokenFile, 'utf8').trim(), readAt: now };
      }
      return `Bearer ${this.cachedToken.value}`;
    }
    if (c.token) return `Bearer ${c.token}`;
    if (c.basic)
      return `Basic ${Buffer.from(`${c.basic.username}:${c.basic.password}`).toString('base64')}`;
    return undefined;
  }

  private send(
    method: string,
    path: string,
    query: Query | undefined,
    body: string | undefined,
    contentType: string | undefined,
    timeout: boolean,
  ): Promise<http.IncomingMessage> {
    const url = new URL(path, this.conn.server);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const auth = this.authorization();
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': 'ovs-offload',
      ...(auth ? { authorization: auth } : {}),
      ...(body !== undefined
        ? {
            'content-type': contentType ?? 'application/json',
            'content-length': String(Buffer.byteLength(body)),
          }
        : {}),
    };
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent: this.agent }, resolve);
      req.on('error', (err) =>
        reject(new KubeApiError(`${method} ${path}: ${err.message}`, null, null)),
      );
      if (timeout) {
        req.setTimeout(REQUEST_TIMEOUT_MS, () =>
          req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS} ms`)),
        );
      } else {
        // A watch is silent for minutes: TCP keepalive notices an API server that vanished.
        req.on('socket', (s) => s.setKeepAlive(true, 30_000));
      }
      req.end(body);
    });
  }
}

function parseEvent(line: string): z.infer<typeof WatchEventSchema> | Error {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return new Error('a watch event is not JSON');
  }
  const r = WatchEventSchema.safeParse(raw);
  return r.success ? r.data : new Error('a watch event without type/object');
}

function readBody(res: http.IncomingMessage, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        res.destroy();
        reject(new KubeApiError(`${what}: answer larger than ${MAX_BODY_BYTES} bytes`, null));
        return;
      }
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', (err) => reject(new KubeApiError(`${what}: ${err.message}`, null)));
  });
}

/** "GET /api/v1/…: 404 NotFound: pods "x" not found" from the server's Status, if any. */
function statusError(what: string, code: number, text: string): KubeApiError {
  let status: z.infer<typeof StatusSchema> = {};
  try {
    const r = StatusSchema.safeParse(JSON.parse(text));
    if (r.success) status = r.data;
  } catch {
    // Not a Status (a proxy's HTML page): the HTTP code says enough.
  }
  const reason = status.reason ?? null;
  const detail = status.message ?? (text.slice(0, 200) || http.STATUS_CODES[code] || '');
  return new KubeApiError(`${what}: ${code}${reason ? ` ${reason}` : ''}: ${detail}`, code, reason);
}
