import { Backoff, errorMessage, unrefTimeout, type Logger } from '../../sys/index.js';

export interface PendingUndo {
  key: string;
  attempts: number;
  lastError: string;
}

/**
 * Undos that failed for a transient reason (OVSDB reconnecting, an IPAM plugin timing out),
 * retried in the background with backoff until they succeed or a DEL does the work. Reported
 * in `status` and metrics; timers are unref'd and cancelled by close().
 */
export class UndoRetries {
  private readonly entries = new Map<
    string,
    { attempts: number; lastError: string; backoff: Backoff; timer: NodeJS.Timeout | null }
  >();
  private closed = false;

  constructor(
    private readonly logger: Logger,
    private readonly maxDelayMs = 60_000,
  ) {}

  /** Records a failure of `key`'s undo and schedules `retry` (replacing any earlier one). */
  schedule(key: string, err: unknown, retry: () => Promise<void>): void {
    if (this.closed) return;
    let e = this.entries.get(key);
    if (!e) {
      e = {
        attempts: 0,
        lastError: '',
        backoff: new Backoff({ initialMs: 1000, maxMs: this.maxDelayMs }),
        timer: null,
      };
      this.entries.set(key, e);
    }
    e.attempts++;
    e.lastError = errorMessage(err);
    if (e.timer) clearTimeout(e.timer);
    const delay = e.backoff.next();
    this.logger.warn(
      { attachment: key, attempts: e.attempts, retryInMs: delay, err: e.lastError },
      'undo failed; retrying later',
    );
    const entry = e;
    entry.timer = unrefTimeout(() => {
      entry.timer = null;
      retry().catch((retryErr: unknown) => this.schedule(key, retryErr, retry));
    }, delay);
  }

  /** The undo of `key` succeeded (by a retry or a DEL): forget it. */
  done(key: string): void {
    const e = this.entries.get(key);
    if (e?.timer) clearTimeout(e.timer);
    this.entries.delete(key);
  }

  list(): PendingUndo[] {
    return [...this.entries].map(([key, e]) => ({
      key,
      attempts: e.attempts,
      lastError: e.lastError,
    }));
  }

  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) if (e.timer) clearTimeout(e.timer);
  }
}
