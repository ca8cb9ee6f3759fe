import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  checkArgv,
  DEFAULT_TIMEOUT_MS,
  ExecaRunner,
  settle,
  type CommandRunner,
  type ExecaCall,
  type LongRunning,
  type Outcome,
  type RunOptions,
  type RunResult,
} from './command.js';
import { CommandError } from './errors.js';

export type SpawnMessage =
  | { kind: 'run'; id: number; file: string; args: string[]; call: Omit<ExecaCall, 'signal'> }
  | { kind: 'cancel'; id: number };

export interface SpawnReply {
  id: number;
  outcome: Outcome;
}

interface Pending {
  argv: readonly string[];
  okExitCodes: readonly number[] | undefined;
  resolve(r: RunResult): void;
  reject(e: Error): void;
}

interface Thread {
  worker: Worker;
  pending: Map<number, Pending>;
}

/** Where the worker is when this module runs from dist/ (the bundles sit side by side). */
export function bundledWorker(): URL | null {
  const url = new URL('./spawn-worker.js', import.meta.url);
  return existsSync(fileURLToPath(url)) ? url : null;
}

/**
 * A CommandRunner whose commands are spawned from worker threads. libuv's uv_spawn forks and
 * then blocks the spawning thread until the child has exec'd; on a busy node that is a
 * scheduling delay per command (10–17 ms per `ip` measured here with both CPUs loaded), and
 * a burst of pod ADDs spends most of its wall time in it with every other request waiting.
 * Spawned from workers, those waits overlap and the agent's thread keeps serving.
 * Results, errors and timeouts are ExecaRunner's; long-running commands stay on it.
 * Workers start on first use and stop after `idleMs` without commands.
 */
export class ThreadedRunner implements CommandRunner {
  private readonly direct: ExecaRunner;
  private readonly threads: Thread[] = [];
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    baseEnv: Record<string, string | undefined> = {},
    private readonly workerUrl: URL = bundledWorker() ?? new URL('file:///nonexistent'),
    private readonly size = 2,
    private readonly idleMs = 30_000,
  ) {
    this.direct = new ExecaRunner(baseEnv);
  }

  run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const [file, args] = checkArgv(argv);
    const thread = this.pick();
    const id = this.nextId++;
    const call: Omit<ExecaCall, 'signal'> = {
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      env: this.direct.envFor(opts),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    };
    return new Promise<RunResult>((resolve, reject) => {
      const signal = opts.signal;
      const onAbort = () => thread.worker.postMessage({ kind: 'cancel', id });
      const done = () => {
        signal?.removeEventListener('abort', onAbort);
        if (this.threads.every((t) => t.pending.size === 0)) this.armIdle();
      };
      thread.pending.set(id, {
        argv,
        okExitCodes: opts.okExitCodes,
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      if (signal?.aborted) {
        // As execa: an already-aborted signal cancels the command before it runs.
        thread.pending.delete(id);
        done();
        reject(
          new CommandError(argv, null, 'canceled before it started', { cause: signal.reason }),
        );
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      thread.worker.postMessage({ kind: 'run', id, file, args, call });
    });
  }

  stream(
    argv: readonly string[],
    onLine: (line: string) => void,
    opts: RunOptions = {},
  ): LongRunning {
    return this.direct.stream(argv, onLine, opts);
  }

  /** Stops the workers (commands in flight fail). */
  async close(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    await Promise.all(this.threads.splice(0).map((t) => t.worker.terminate()));
  }

  private pick(): Thread {
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    const least = this.threads.reduce<Thread | null>(
      (best, t) => (best === null || t.pending.size < best.pending.size ? t : best),
      null,
    );
    if (least && (least.pending.size === 0 || this.threads.length >= this.size)) return least;
    return this.startThread();
  }

  private startThread(): Thread {
    // Small heaps: a worker holds one command's output at a time per request.
    const worker = new Worker(this.workerUrl, {
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 4 },
    });
    // Never what keeps the process alive.
    worker.unref();
    const thread: Thread = { worker, pending: new Map() };
    this.threads.push(thread);
    worker.on('message', (m: SpawnReply) => {
      const p = thread.pending.get(m.id);
      if (!p) return;
      thread.pending.delete(m.id);
      try {
        p.resolve(settle(p.argv, m.outcome, p.okExitCodes));
      } catch (err) {
        p.reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    const lost = (why: unknown) => {
      const i = this.threads.indexOf(thread);
      if (i >= 0) this.threads.splice(i, 1);
      // The command's fate is unknown (it may have run): its caller undoes as for any failure.
      for (const [id, p] of thread.pending) {
        thread.pending.delete(id);
        p.reject(new CommandError(p.argv, null, 'the thread that ran it stopped', { cause: why }));
      }
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`spawn worker exited with ${code}`)));
    return thread;
  }

  private armIdle(): void {
    if (this.idleTimer || this.threads.length === 0) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.threads.every((t) => t.pending.size === 0)) void this.close();
    }, this.idleMs);
    this.idleTimer.unref();
  }
}

/** ThreadedRunner when the worker bundle is present (dist/), else ExecaRunner. */
export function defaultRunner(baseEnv: Record<string, string | undefined> = {}): CommandRunner {
  const url = bundledWorker();
  return url ? new ThreadedRunner(baseEnv, url) : new ExecaRunner(baseEnv);
}
