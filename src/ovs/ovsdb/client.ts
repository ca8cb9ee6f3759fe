import type * as net from 'node:net';
import {
  Backoff,
  errorMessage,
  silentLogger,
  unrefTimeout,
  type BackoffOptions,
  type Logger,
} from '../../sys/index.js';
import {
  OvsdbClosedError,
  OvsdbDisconnectedError,
  OvsdbProtocolError,
  OvsdbTimeoutError,
} from '../errors.js';
import { RpcConnection } from './connection.js';
import { openSocket, parseEndpoint, type Endpoint } from './endpoint.js';
import type { Monitor, MonitorRequest } from './monitor.js';
import { MonitorRegistry } from './monitor-registry.js';
import type { Operation, OperationResult } from './operations.js';
import { databaseSchemaSchema, listDbsSchema, type DatabaseSchema } from './schemas.js';
import { checkTransactResult } from './transact-result.js';

export interface OvsdbClientOptions {
  logger?: Logger;
  /** Reconnect delays (the project's Backoff; default 100 ms doubling to 5 s, jittered). */
  backoff?: BackoffOptions;
  /** Idle time before we probe the server with an echo (default 5000; 0: never). */
  keepaliveMs?: number;
  /** How long a probed server may stay silent before we drop it (default: keepaliveMs). */
  deadPeerMs?: number;
  /** Default bound of each call, queued time included (default 60 s). */
  requestTimeoutMs?: number;
  /** Bound of one connection attempt (default 5 s). */
  connectTimeoutMs?: number;
  /** Largest message accepted from the server (default 8 MiB). */
  maxMessageBytes?: number;
}

export interface CallOptions {
  /** Overrides the client's requestTimeoutMs for this call. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Request {
  method: string;
  params: unknown[];
  /** Runs synchronously on the reply, before any later message is read (monitor replies). */
  onResult?: (result: unknown) => void;
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
  conn?: RpcConnection;
  id?: number;
  cleanup: () => void;
}

/**
 * An RFC 7047 client for ovsdb-server over `unix:` or `tcp:`.
 *
 * Connection model: it connects at construction and keeps reconnecting with the project's
 * Backoff until close(). Calls made while disconnected wait (bounded by their timeout) and
 * are sent once connected. Calls already sent when the connection dies are rejected with a
 * retryable OvsdbDisconnectedError, never re-sent by us: a transaction may have been
 * committed just before the server died, and only the caller knows whether it is idempotent.
 * Monitors are re-established on every reconnect and re-deliver their full initial state.
 */
export class OvsdbClient {
  readonly endpoint: Endpoint;
  private readonly logger: Logger;
  private readonly backoff: Backoff;
  private readonly opts: Required<Omit<OvsdbClientOptions, 'logger' | 'backoff'>>;
  private conn: RpcConnection | undefined;
  private connecting: net.Socket | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private lastError: Error | undefined;
  private readonly queue: Request[] = [];
  private readonly inflight = new Set<Request>();
  private readonly monitors: MonitorRegistry;
  private readonly connectListeners = new Set<() => void>();
  private readonly disconnectListeners = new Set<(reason: Error) => void>();
  private socketClosed: Promise<void> = Promise.resolve();
  /** How many connections were established so far (1 after the first connect). */
  connections = 0;

  constructor(endpoint: string, opts: OvsdbClientOptions = {}) {
    this.endpoint = parseEndpoint(endpoint);
    this.logger = opts.logger ?? silentLogger();
    this.backoff = new Backoff({ initialMs: 100, maxMs: 5000, ...opts.backoff });
    const keepaliveMs = opts.keepaliveMs ?? 5000;
    this.opts = {
      keepaliveMs,
      deadPeerMs: opts.deadPeerMs ?? keepaliveMs,
      requestTimeoutMs: opts.requestTimeoutMs ?? 60_000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 5000,
      maxMessageBytes: opts.maxMessageBytes ?? 8 * 1024 * 1024,
    };
    this.monitors = new MonitorRegistry(
      (method, params, opts, onResult) => this.call(method, params, opts, onResult),
      () => this.isConnected,
      this.logger,
    );
    this.startConnect();
  }

  /** A client whose first connection is up (or a rejection after `timeoutMs`, default 10 s). */
  static async connect(
    endpoint: string,
    opts: OvsdbClientOptions & { timeoutMs?: number } = {},
  ): Promise<OvsdbClient> {
    const client = new OvsdbClient(endpoint, opts);
    try {
      await client.waitConnected(opts.timeoutMs ?? 10_000);
      return client;
    } catch (err) {
      await client.close();
      throw err;
    }
  }

  get isConnected(): boolean {
    return this.conn !== undefined && !this.conn.isClosed;
  }

  /** Resolves once connected; rejects (retryable) if that takes longer than timeoutMs. */
  waitConnected(timeoutMs: number): Promise<void> {
    if (this.closed)
      return Promise.reject(new OvsdbClosedError(`connect ${this.endpoint.text}: client closed`));
    if (this.isConnected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.connectListeners.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.connectListeners.delete(done);
        reject(this.notConnectedError('connect', timeoutMs));
      }, timeoutMs);
      this.connectListeners.add(done);
    });
  }

  /** Called after every (re)connection; returns the unsubscribe function. */
  onConnect(fn: () => void): () => void {
    this.connectListeners.add(fn);
    return () => this.connectListeners.delete(fn);
  }

  onDisconnect(fn: (reason: Error) => void): () => void {
    this.disconnectListeners.add(fn);
    return () => this.disconnectListeners.delete(fn);
  }

  async listDbs(opts?: CallOptions): Promise<string[]> {
    return this.parse('list_dbs', listDbsSchema, await this.call('list_dbs', [], opts));
  }

  async getSchema(db: string, opts?: CallOptions): Promise<DatabaseSchema> {
    return this.parse(
      'get_schema',
      databaseSchemaSchema,
      await this.call('get_schema', [db], opts),
    );
  }

  /**
   * Runs one transaction and checks every operation's result (see checkTransactResult):
   * resolves with one result per operation only if all of them and the commit succeeded.
   */
  async transact(
    db: string,
    ops: readonly Operation[],
    opts?: CallOptions,
  ): Promise<OperationResult[]> {
    const result = await this.call('transact', [db, ...ops], opts);
    return checkTransactResult(db, ops, result);
  }

  async echo(params: unknown[] = [], opts?: CallOptions): Promise<unknown> {
    return this.call('echo', params, opts);
  }

  /** `monitor` (RFC 7047 §4.1.5): updates carry whole new rows. */
  monitor(req: MonitorRequest, opts?: CallOptions): Promise<Monitor> {
    return this.monitors.start(1, req, opts);
  }

  /** `monitor_cond` (ovsdb-server(7)): conditions per table; `modify` updates carry diffs. */
  monitorCond(req: MonitorRequest, opts?: CallOptions): Promise<Monitor> {
    return this.monitors.start(2, req, opts);
  }

  /**
   * Sends one JSON-RPC request and resolves with its `result` (a JSON-RPC `error` rejects
   * with OvsdbError). Prefer the typed methods; this is for methods they do not cover.
   */
  call(
    method: string,
    params: unknown[],
    opts: CallOptions = {},
    onResult?: (result: unknown) => void,
  ): Promise<unknown> {
    if (this.closed) {
      return Promise.reject(new OvsdbClosedError(`${method} ${this.endpoint.text}: client closed`));
    }
    const timeoutMs = opts.timeoutMs ?? this.opts.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        req.cleanup();
        fn();
      };
      const onAbort = () =>
        settle(() => {
          this.forget(req);
          reject(opts.signal?.reason instanceof Error ? opts.signal.reason : new Error('aborted'));
        });
      // Not unref'd: somebody awaits this call, it is work in progress.
      const timer = setTimeout(
        () =>
          settle(() => {
            const sent = req.conn !== undefined;
            this.forget(req);
            reject(
              sent
                ? new OvsdbTimeoutError(`${method} ${this.endpoint.text}`, timeoutMs)
                : this.notConnectedError(method, timeoutMs),
            );
          }),
        timeoutMs,
      );
      const req: Request = {
        method,
        params,
        ...(onResult ? { onResult } : {}),
        resolve: (v) =>
          settle(() => {
            try {
              req.onResult?.(v);
            } catch (err) {
              reject(err instanceof Error ? err : new Error(String(err)));
              return;
            }
            resolve(v);
          }),
        reject: (e) => settle(() => reject(e)),
        cleanup: () => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          this.inflight.delete(req);
          const qi = this.queue.indexOf(req);
          if (qi >= 0) this.queue.splice(qi, 1);
        },
      };
      if (opts.signal?.aborted) {
        onAbort();
        return;
      }
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.inflight.add(req);
      if (this.conn && !this.conn.isClosed) this.dispatch(req, this.conn);
      else this.queue.push(req);
    });
  }

  /**
   * Stops everything: no more reconnects, every pending call is rejected with
   * OvsdbClosedError, monitors end. Resolves once the socket is closed.
   */
  async close(): Promise<void> {
    if (this.closed) return this.socketClosed;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.connecting?.destroy();
    this.connecting = undefined;
    this.monitors.clear();
    const reason = new OvsdbClosedError(
      `close ovsdb client ${this.endpoint.text}: closed by owner`,
    );
    for (const req of [...this.inflight, ...this.queue]) {
      req.reject(
        new OvsdbClosedError(`${req.method} ${this.endpoint.text}: client closed`, {
          cause: reason,
        }),
      );
    }
    this.conn?.destroy(reason);
    this.conn = undefined;
    this.connectListeners.clear();
    this.disconnectListeners.clear();
    return this.socketClosed;
  }

  private dispatch(req: Request, conn: RpcConnection): void {
    req.conn = conn;
    req.id = conn.send(req.method, req.params, { resolve: req.resolve, reject: req.reject });
  }

  private forget(req: Request): void {
    if (req.conn && req.id !== undefined) req.conn.forget(req.id);
  }

  private parse<T>(
    method: string,
    schema: {
      safeParse(v: unknown): { success: true; data: T } | { success: false; error: Error };
    },
    value: unknown,
  ): T {
    const r = schema.safeParse(value);
    if (!r.success) {
      throw new OvsdbProtocolError(
        `${method} ${this.endpoint.text}: malformed reply: ${r.error.message}`,
      );
    }
    return r.data;
  }

  private notConnectedError(method: string, waitedMs: number): OvsdbDisconnectedError {
    const last = this.lastError ? `: ${errorMessage(this.lastError)}` : '';
    return new OvsdbDisconnectedError(
      this.endpoint.text,
      `${method} ${this.endpoint.text}: not connected after ${waitedMs} ms${last}`,
      { cause: this.lastError },
    );
  }

  private startConnect(): void {
    if (this.closed) return;
    this.reconnectTimer = undefined;
    const socket = openSocket(this.endpoint);
    this.connecting = socket;
    const timer = unrefTimeout(
      () => socket.destroy(new Error(`connect timed out after ${this.opts.connectTimeoutMs} ms`)),
      this.opts.connectTimeoutMs,
    );
    const onError = (err: Error) => {
      clearTimeout(timer);
      if (this.connecting !== socket) return;
      this.connecting = undefined;
      this.lastError = err;
      this.logger.debug({ endpoint: this.endpoint.text, err: err.message }, 'ovsdb connect failed');
      this.scheduleReconnect();
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      if (this.connecting !== socket) return;
      this.connecting = undefined;
      this.onConnected(socket);
    });
  }

  private onConnected(socket: net.Socket): void {
    this.socketClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    const conn: RpcConnection = new RpcConnection(
      socket,
      this.endpoint.text,
      {
        keepaliveMs: this.opts.keepaliveMs,
        deadPeerMs: this.opts.deadPeerMs,
        maxMessageBytes: this.opts.maxMessageBytes,
        logger: this.logger,
      },
      {
        onNotification: (method, params) => this.monitors.dispatch(method, params),
        onClose: (reason) => this.onConnectionClosed(conn, reason),
        // Reset only once the server has answered: one that accepts and then drops every
        // connection must not be hammered at the initial delay forever.
        onFirstMessage: () => this.backoff.reset(),
      },
    );
    this.conn = conn;
    this.connections++;
    this.logger.info(
      { endpoint: this.endpoint.text, connections: this.connections },
      this.connections === 1 ? 'ovsdb connected' : 'ovsdb reconnected',
    );
    // Monitors first, so their fresh initial state precedes the replies to queued calls.
    this.monitors.resendAll(conn);
    for (const req of this.queue.splice(0)) this.dispatch(req, conn);
    for (const fn of [...this.connectListeners]) fn();
  }

  private onConnectionClosed(conn: RpcConnection, reason: Error): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    this.lastError = reason;
    if (this.closed) return;
    this.logger.warn(
      { endpoint: this.endpoint.text, err: errorMessage(reason) },
      'ovsdb connection lost; reconnecting',
    );
    for (const fn of [...this.disconnectListeners]) fn(reason);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = unrefTimeout(() => this.startConnect(), this.backoff.next());
  }
}
