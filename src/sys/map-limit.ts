/**
 * `fn` over `items` with at most `limit` calls in flight, results in input order. For
 * independent per-device host work (one process per netdev: ethtool has no batch mode): a
 * few at a time keeps a 512-VF node from waiting out hundreds of sequential process starts
 * without forking hundreds at once. Every call runs even when one fails; the first failure
 * (in input order) is thrown after all have settled, so no call is left running unobserved.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`mapLimit: limit must be a positive integer (got ${limit})`);
  }
  const results = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) {
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i] as T, i) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results.map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
}
