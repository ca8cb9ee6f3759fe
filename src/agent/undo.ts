import { errorMessage, type Logger } from '../sys/index.js';

/**
 * The undo stack of one CNI ADD: every host mutation pushes its inverse right after it
 * succeeds; on failure they run newest first and every failure is reported, not swallowed.
 */
export class UndoStack {
  private readonly steps: { what: string; undo: () => Promise<void> }[] = [];

  push(what: string, undo: () => Promise<void>): void {
    this.steps.push({ what, undo });
  }

  get size(): number {
    return this.steps.length;
  }

  async unwind(logger: Logger): Promise<string[]> {
    const failures: string[] = [];
    while (this.steps.length > 0) {
      const s = this.steps.pop();
      if (!s) break;
      try {
        await s.undo();
      } catch (err) {
        failures.push(`undo ${s.what}: ${errorMessage(err)}`);
        logger.error({ step: s.what, err: errorMessage(err) }, 'undo failed');
      }
    }
    return failures;
  }
}
