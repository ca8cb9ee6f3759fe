import { describe, expect, it } from 'vitest';
import { WatchLoop, type WatchLoopOptions } from '../../../src/deviceplugin/watch-loop.js';

/** A Files.watch stand-in: records what is watched and lets a test fire events. */
class FakeWatch {
  open = new Map<string, () => void>();
  opened: string[] = [];
  missing = new Set<string>();
  watch = (p: string, onChange: (filename: string | null) => void) => {
    if (this.missing.has(p)) throw new Error(`watch ${p}: not found`);
    this.opened.push(p);
    this.open.set(p, () => onChange(null));
    return { close: () => this.open.delete(p) };
  };
  fire(p: string): void {
    this.open.get(p)?.();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function loop(step: WatchLoopOptions['step'], more: Partial<WatchLoopOptions> = {}) {
  const fake = new FakeWatch();
  const errors: unknown[] = [];
  const l = new WatchLoop({
    step,
    onError: (err) => errors.push(err),
    intervalMs: 60_000,
    hintDelayMs: 5,
    files: fake,
    ...more,
  });
  return { l, fake, errors };
}

describe('WatchLoop', () => {
  it('runs one step at a time: triggers during a step queue exactly one more', async () => {
    const gate = deferred();
    let steps = 0;
    const { l } = loop(async () => {
      steps++;
      if (steps === 1) await gate.promise;
    });
    l.trigger();
    l.trigger();
    l.trigger();
    l.trigger();
    expect(steps).toBe(1);
    gate.resolve();
    await l.idle();
    expect(steps).toBe(2);
    await l.stop();
  });

  it('a failing step goes to onError and the loop carries on', async () => {
    let fail = true;
    let steps = 0;
    const { l, errors } = loop(async () => {
      steps++;
      if (fail) throw new Error('read failed');
    });
    await l.settle();
    fail = false;
    await l.settle();
    expect(steps).toBe(2);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('read failed');
    await l.stop();
  });

  it('settle waits for a step that started after it was called', async () => {
    const gate = deferred();
    const log: string[] = [];
    let n = 0;
    const { l } = loop(async () => {
      const i = ++n;
      log.push(`start ${i}`);
      if (i === 1) await gate.promise;
      log.push(`end ${i}`);
    });
    l.trigger();
    const settled = l.settle().then(() => log.push('settled'));
    gate.resolve();
    await settled;
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'settled']);
    await l.stop();
  });

  it('a burst of events on watched directories brings one step forward', async () => {
    let steps = 0;
    const { l, fake } = loop(async () => void steps++);
    l.start();
    l.watch(['/a', '/b']);
    fake.fire('/a');
    fake.fire('/b');
    fake.fire('/a');
    expect(steps).toBe(0);
    await sleep(30);
    await l.idle();
    expect(steps).toBe(1);
    await l.stop();
  });

  it('re-watches only when the set of directories changes, skipping ones it cannot watch', async () => {
    const { l, fake } = loop(async () => undefined);
    fake.missing.add('/gone');
    l.watch(['/a', '/gone']);
    l.watch(['/a', '/gone']);
    expect(fake.opened).toEqual(['/a']);
    l.watch(['/b']);
    expect(fake.opened).toEqual(['/a', '/b']);
    expect([...fake.open.keys()]).toEqual(['/b']);
    await l.stop();
    expect(fake.open.size).toBe(0);
    // After stop, the same set is watched again on request.
    l.watch(['/b']);
    expect(fake.opened).toEqual(['/a', '/b', '/b']);
    await l.stop();
  });

  it('polls on its own, and stop() waits for the step in progress and ends polling', async () => {
    let steps = 0;
    let inStep = false;
    const { l } = loop(
      async () => {
        steps++;
        inStep = true;
        await sleep(5);
        inStep = false;
      },
      { intervalMs: 2 },
    );
    l.start();
    await sleep(40);
    await l.stop();
    expect(inStep).toBe(false);
    expect(l.stopped).toBe(true);
    const n = steps;
    expect(n).toBeGreaterThan(1);
    l.trigger();
    await sleep(20);
    expect(steps).toBe(n);
  });
});
