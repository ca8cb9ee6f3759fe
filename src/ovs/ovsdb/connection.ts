import type * as net from 'node:net';
import { errorMessage, unrefInterval, type Logger } from '../../sys/index.js';
import { OvsdbDisconnectedError, OvsdbError, OvsdbProtocolError } from '../errors.js';
import { errorObjectSchema, rpcMessageSchema, type RpcMessage } from './schemas.js';
import { JsonStreamSplitter } from './splitter.js';

export interface ConnectionOptions {
  maxMessageBytes?: number;
  /** Idle time after which we probe the peer with an echo (0: never probe). */
  keepaliveMs: number;
  /** Silence after a probe after which the peer is declared dead and the socket dropped. */
  deadPeerMs: number;
  logger: Logger;
}

export interface ConnectionEvents {
  onNotification(method: string, params: unknown[]): void;
  /** Called exactly once, when the connection is over, with why. */
  onClose(reason: Error): void;
  /** Called on the first complete message from the peer (the link is proven to work). */
  onFirstMessage(): void;
}

interface Pending {
  method: string;
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
}

/**
 * One JSON-RPC 1.0 session over one socket (RFC 7047 §4): ids, replies, the server's echo
 * probes, our own keepalive. It never reconnects; the client makes a new one instead. When it
 * ends, every request still waiting for its reply is rejected with a retryable error.
 */
export class RpcConnection {
  private readonly splitter: JsonStreamSplitter;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private corked = false;
  private closed = false;
  private sawMessage = false;
  private lastRx = Date.now();
  private lastTick = Date.now();
  private tickMs = 0;
  private probeSentAt: number | null = null;
  private readonly keepalive: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly endpoint: string,
    private readonly opts: ConnectionOptions,
    private readonly events: ConnectionEvents,
  ) {
    this.splitter = new JsonStreamSplitter({
      ...(opts.maxMessageBytes !== undefined ? { maxMessageBytes: opts.maxMessageBytes } : {}),
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      try {
        this.splitter.end();
        this.finish(new Error('closed by peer'));
      } catch (err) {
        this.finish(err instanceof Error ? err : new Error(String(err)));
      }
    });
    socket.on('error', (err) => this.finish(err));
    socket.on('close', () => this.finish(new Error('socket closed')));
    if (opts.keepaliveMs > 0) {
      this.tickMs = Math.max(10, Math.floor(Math.min(opts.keepaliveMs, opts.deadPeerMs) / 4));
      this.keepalive = unrefInterval(() => this.checkLiveness(), this.tickMs);
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends a request; the handlers settle it exactly once (reply, error, or connection end). */
  send(method: string, params: unknown[], handlers: Omit<Pending, 'method'>): number {
    if (this.closed) {
      handlers.reject(
        new OvsdbDisconnectedError(this.endpoint, `${method} ${this.endpoint}: not connected`),
      );
      return -1;
    }
    const id = this.nextId++;
    this.pending.set(id, { method, ...handlers });
    this.write({ id, method, params });
    return id;
  }

  /** Drops a request whose caller stopped waiting (timeout); a late reply is then ignored. */
  forget(id: number): void {
    this.pending.delete(id);
  }

  /** Ends the session (idempotent); pending requests fail with `reason` as their cause. */
  destroy(reason: Error): void {
    this.finish(reason);
    this.socket.destroy();
  }

  private write(msg: Record<string, unknown>): void {
    // Many concurrent requests in one tick leave as one write (one syscall, one segment).
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(JSON.stringify(msg));
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastRx = Date.now();
    this.probeSentAt = null;
    try {
      this.splitter.push(chunk, (v) => this.onMessage(v));
    } catch (err) {
      this.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private onMessage(value: unknown): void {
    if (this.closed) return;
    const parsed = rpcMessageSchema.safeParse(value);
    if (!parsed.success || typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new OvsdbProtocolError(`read ovsdb stream: message is not a JSON-RPC object`);
    }
    if (!this.sawMessage) {
      this.sawMessage = true;
      this.events.onFirstMessage();
    }
    const msg = parsed.data;
    if (msg.method !== undefined) {
      if (msg.id === null || msg.id === undefined) {
        this.events.onNotification(msg.method, msg.params ?? []);
      } else if (msg.method === 'echo') {
        // ovsdb-server's inactivity probe: an unanswered echo gets us disconnected.
        this.write({ id: msg.id, result: msg.params ?? [], error: null });
      } else {
        this.write({ id: msg.id, result: null, error: 'unknown method' });
      }
      return;
    }
    if (!('id' in value) || msg.id === null || msg.id === undefined) {
      throw new OvsdbProtocolError('read ovsdb stream: message is neither request nor reply');
    }
    this.onReply(msg);
  }

  private onReply(msg: RpcMessage): void {
    const p = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
    if (!p) {
      this.opts.logger.debug({ id: msg.id }, 'ovsdb reply to a request nobody waits for');
      return;
    }
    this.pending.delete(msg.id as number);
    if (msg.error !== undefined && msg.error !== null) {
      const e = errorObjectSchema.safeParse(msg.error);
      const context = `${p.method} ${this.endpoint}`;
      p.reject(
        e.success
          ? new OvsdbError(p.method, e.data.error, e.data.details, { context })
          : new OvsdbError(
              p.method,
              typeof msg.error === 'string' ? msg.error : 'error',
              undefined,
              {
                context,
              },
            ),
      );
      return;
    }
    p.resolve(msg.result ?? null);
  }

  private checkLiveness(): void {
    if (this.closed) return;
    const now = Date.now();
    const stalled = now - this.lastTick > 2 * this.tickMs;
    this.lastTick = now;
    // After our own event loop stalled, timers run before pending socket reads: the answer
    // may be sitting unread. Blame the peer only on a tick that follows a timely one.
    if (stalled) return;
    if (this.probeSentAt === null) {
      if (now - this.lastRx < this.opts.keepaliveMs) return;
      this.probeSentAt = now;
      this.send('echo', [], { resolve: () => undefined, reject: () => undefined });
      return;
    }
    if (now - this.probeSentAt >= this.opts.deadPeerMs) {
      this.destroy(
        new Error(`peer silent for ${now - this.lastRx} ms (keepalive echo unanswered)`),
      );
    }
  }

  private finish(reason: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (this.keepalive) clearInterval(this.keepalive);
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      p.reject(
        new OvsdbDisconnectedError(
          this.endpoint,
          `${p.method} ${this.endpoint}: connection lost: ${errorMessage(reason)}`,
          { cause: reason },
        ),
      );
    }
    this.events.onClose(reason);
  }
}
