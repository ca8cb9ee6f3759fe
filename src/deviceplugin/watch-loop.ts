import { unrefInterval, unrefTimeout, type Files, type Watcher } from '../sys/index.js';

/**
 * Re-checks some host state by running one async step at a time: on a periodic poll, when
 * asked (trigger), and shortly after inotify events on watched directories. Events are only
 * hints (coalesced, may be lost, and sysfs attributes raise none), so the poll is the truth;
 * a trigger while a step runs queues exactly one more step, never a pile.
 */

export interface WatchLoopOptions {
  /** One re-check. Whatever it throws goes to onError; the loop carries on. */
  step: () => Promise<void>;
  onError: (err: unknown) => void;
  /** Poll period. */
  intervalMs: number;
  /** How long a burst of events is gathered before it triggers one step. */
  hintDelayMs: number;
  files: Pick<Files, 'watch'>;
  /** Called when gathered events trigger a step (before it starts). */
  onHint?: () => void;
}

export class WatchLoop {
  private timer: NodeJS.Timeout | undefined;
  private hintTimer: NodeJS.Timeout | undefined;
  private watchers: Watcher[] = [];
  private watched = '';
  private running: Promise<void> | undefined;
  private again = false;
  private stopped_ = false;

  constructor(private readonly opts: WatchLoopOptions) {}

  /** True from stop() until the next start(): a step in flight may check it before it acts. */
  get stopped(): boolean {
    return this.stopped_;
  }

  /** Starts the poll. */
  start(): void {
    this.stopped_ = false;
    this.timer = unrefInterval(() => this.trigger(), this.opts.intervalMs);
  }

  /** Runs a step now, or once more after the one in progress. */
  trigger(): void {
    if (this.stopped_) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.opts
      .step()
      .catch((err: unknown) => this.opts.onError(err))
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped_) {
          this.again = false;
          this.trigger();
        }
      });
  }

  /** Watches these directories (replacing the previous set when it differs) for hints. */
  watch(dirs: readonly string[]): void {
    const key = dirs.join('\n');
    if (key === this.watched) return;
    this.closeWatchers();
    this.watched = key;
    for (const d of dirs) {
      try {
        this.watchers.push(this.opts.files.watch(d, () => this.hint()));
      } catch {
        // Not there (yet), or vanished (VFs being removed): the poll covers it.
      }
    }
  }

  /** Events come in bursts (a numvfs change touches dozens of entries): coalesce them. */
  private hint(): void {
    if (this.hintTimer || this.stopped_) return;
    this.hintTimer = unrefTimeout(() => {
      this.hintTimer = undefined;
      this.opts.onHint?.();
      this.trigger();
    }, this.opts.hintDelayMs);
  }

  /** Resolves once no step is running. */
  async idle(): Promise<void> {
    for (let r = this.running; r; r = this.running) await r;
  }

  /** Resolves once a step that started after this call has finished. */
  async settle(): Promise<void> {
    await this.idle();
    this.trigger();
    await this.idle();
  }

  private closeWatchers(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    this.watched = '';
  }

  /** Stops polling and watching, then waits for the step in progress. */
  async stop(): Promise<void> {
    this.stopped_ = true;
    if (this.timer) clearInterval(this.timer);
    if (this.hintTimer) clearTimeout(this.hintTimer);
    this.timer = undefined;
    this.hintTimer = undefined;
    this.closeWatchers();
    await this.idle();
  }
}
