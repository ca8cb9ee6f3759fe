/**
 * Keyed async mutex: one ADD/DEL at a time per VF and per attachment, any number in
 * parallel across VFs.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Whether a caller holds (or waits for) key right now. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

  /** Runs fn holding every key (sorted, so two callers never deadlock). */
  async runAll<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const step = (i: number): Promise<T> => {
      const k = sorted[i];
      return k === undefined ? fn() : this.run(k, () => step(i + 1));
    };
    return step(0);
  }
}
