import { describe, expect, it } from 'vitest';
import { mapLimit } from '../../../src/sys/index.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('mapLimit', () => {
  it('keeps input order and never runs more than the limit at once', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 1, 2], 3, async (x, i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await tick(x);
      inFlight--;
      return `${i}:${x}`;
    });
    expect(out).toEqual(['0:5', '1:1', '2:4', '3:2', '4:3', '5:1', '6:2']);
    expect(peak).toBe(3);
  });

  it('runs every item even when one fails, then throws the first failure in input order', async () => {
    const done: number[] = [];
    const err = await mapLimit([1, 2, 3, 4], 2, async (x) => {
      await tick(5 - x);
      if (x === 2 || x === 4) throw new Error(`item ${x}`);
      done.push(x);
      return x;
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('item 2');
    expect(done.sort()).toEqual([1, 3]);
  });

  it('an empty list is an empty result; a limit below 1 is refused', async () => {
    expect(await mapLimit([], 8, async () => 1)).toEqual([]);
    await expect(mapLimit([1], 0, async () => 1)).rejects.toThrow(/positive integer/);
  });
});
