/**
 * The project's single backoff: exponential with full jitter, capped. Every timer it makes
 * is unref'd so a pending retry never keeps a process alive on its own.
 */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** 0..1: fraction of the delay that is randomised (0 = deterministic, for tests). */
  jitter?: number;
}

export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 100;
    this.maxMs = opts.maxMs ?? 10_000;
    this.factor = opts.factor ?? 2;
    this.jitter = opts.jitter ?? 0.5;
  }

  get attempts(): number {
    return this.attempt;
  }

  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempt);
    this.attempt++;
    const spread = base * this.jitter;
    return Math.round(base - spread + Math.random() * spread);
  }

  reset(): void {
    this.attempt = 0;
  }
}

/**
 * Resolves after ms; rejects with the signal's reason when aborted. Not unref'd: a sleep
 * somebody awaits is work in progress (a CLI waiting for a VF must not exit mid-wait);
 * background retries use `unrefTimeout`.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** An unref'd setTimeout, for timers that must not hold the event loop open. */
export function unrefTimeout(fn: () => void, ms: number): NodeJS.Timeout {
  const t = setTimeout(fn, ms);
  t.unref();
  return t;
}

export function unrefInterval(fn: () => void, ms: number): NodeJS.Timeout {
  const t = setInterval(fn, ms);
  t.unref();
  return t;
}

/**
 * Polls `probe` until it returns a non-undefined value or the deadline passes. For kernel
 * state that has no event to wait on (a VF netdev appearing after sriov_numvfs, udev renames).
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  opts: {
    timeoutMs: number;
    intervalMs?: number;
    signal?: AbortSignal;
    onWait?: (elapsedMs: number) => void;
  },
): Promise<T | undefined> {
  const start = Date.now();
  const backoff = new Backoff({ initialMs: opts.intervalMs ?? 10, maxMs: 200, jitter: 0 });
  let lastReport = start;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    const now = Date.now();
    if (now - start >= opts.timeoutMs) return undefined;
    if (opts.onWait && now - lastReport >= 1000) {
      lastReport = now;
      opts.onWait(now - start);
    }
    await sleep(Math.min(backoff.next(), Math.max(1, opts.timeoutMs - (now - start))), opts.signal);
  }
}
