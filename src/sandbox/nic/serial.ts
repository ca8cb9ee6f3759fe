/**
 * The emulator's one lock: every operation (a sysfs write acted on, a stand-in call, a pod
 * netns destroyed, a tree sync) runs after every earlier one, like rtnl_lock in the kernel.
 * An operation never enqueues another and waits for it: that would wait for itself.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs fn after every earlier operation (one at a time, like rtnl_lock). */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Settles once every operation queued so far has run. */
  async drained(): Promise<void> {
    await this.tail.catch(() => undefined);
  }
}
