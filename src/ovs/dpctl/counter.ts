import type { Counter } from './types.js';

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * A u64 counter as OVS prints it (`%"PRIu64"`): digits only, in text[from, to). Long-lived
 * tc flows on 100G NICs pass 2^32 bytes in seconds and 2^53 within weeks, so anything
 * above 2^53−1 stays exact as a decimal string. null when the text is not a counter.
 */
export function parseCounterAt(text: string, from: number, to: number): Counter | null {
  const n = to - from;
  if (n <= 0) return null;
  // Up to 15 digits is always below 2^53: accumulate without allocating.
  if (n <= 15) {
    let v = 0;
    for (let i = from; i < to; i++) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return null;
      v = v * 10 + d;
    }
    return v;
  }
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return null;
  }
  const big = BigInt(text.slice(from, to));
  return big <= MAX_SAFE_BIG ? Number(big) : big.toString();
}

export function parseCounter(text: string): Counter | null {
  return parseCounterAt(text, 0, text.length);
}

/** The exact value of a counter, for arithmetic by callers (the offload verdict). */
export function counterToBigInt(c: Counter): bigint {
  return BigInt(c);
}

/** A counter from an exact value, by the same JSON number rule. */
export function counterFromBigInt(v: bigint): Counter {
  return v <= MAX_SAFE_BIG ? Number(v) : v.toString();
}

/**
 * Adds counters exactly. Safe numbers add as numbers; the running total spills into a BigInt
 * only when it would pass 2^53−1, so one huge counter early in a dump does not turn every
 * later addition into BigInt arithmetic.
 */
export class CounterSum {
  private small = 0;
  private big = 0n;

  add(c: Counter): void {
    if (typeof c === 'number') {
      const s = this.small + c;
      // Both terms are safe integers, so a sum that is still safe was computed exactly.
      if (s <= Number.MAX_SAFE_INTEGER) {
        this.small = s;
        return;
      }
      this.big += BigInt(this.small);
      this.small = c;
      return;
    }
    this.big += BigInt(c);
  }

  get value(): Counter {
    return this.big === 0n ? this.small : counterFromBigInt(this.big + BigInt(this.small));
  }
}
