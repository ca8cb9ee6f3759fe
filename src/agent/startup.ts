import { errorMessage, type Logger } from '../sys/index.js';

/** How a started part is closed; `graceMs` bounds how long in-flight work may finish. */
export type Close = (graceMs: number) => Promise<unknown>;

/**
 * Start-up as named steps. Each step that opens something (a socket, a connection, a
 * timer) registers its close as soon as the thing exists, so a failure or a signal at any
 * later point closes exactly what is open, newest first. A half-started agent must neither
 * keep serving nor keep the event loop alive: the CLI sets `exitCode` and relies on the loop
 * draining.
 *
 * Between steps `checkpoint()` throws when the signal was aborted: the step under way always
 * runs to its end (a PF half-way through unbind/switchdev/rebind must not be left without
 * drivers), the next one never starts.
 */
export class Startup {
  private readonly opened: { what: string; close: Close }[] = [];
  private closing: Promise<void> | null = null;

  constructor(
    private readonly logger: Logger,
    private readonly signal?: AbortSignal,
    /** Called before each step: tests hold start-up there to signal it at that exact point. */
    private readonly beforeStep?: (name: string) => Promise<void>,
  ) {}

  checkpoint(): void {
    this.signal?.throwIfAborted();
  }

  /** Runs one named step after a checkpoint. */
  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.checkpoint();
    await this.beforeStep?.(name);
    this.checkpoint();
    this.logger.debug({ step: name }, 'start-up step');
    return fn();
  }

  /** Registers the close of something just opened. */
  onClose(what: string, close: Close): void {
    this.opened.push({ what, close });
  }

  /** What is open, oldest first (diagnostics and tests). */
  openParts(): string[] {
    return this.opened.map((o) => o.what);
  }

  /**
   * Closes everything registered, newest first; every close runs even when one fails (each
   * failure is logged, none is thrown: a stop must always complete).
   */
  closeAll(graceMs: number): Promise<void> {
    this.closing ??= (async () => {
      for (const o of this.opened.splice(0).reverse()) {
        try {
          await o.close(graceMs);
        } catch (err) {
          this.logger.warn({ what: o.what, err: errorMessage(err) }, 'close failed');
        }
      }
    })();
    return this.closing;
  }
}
