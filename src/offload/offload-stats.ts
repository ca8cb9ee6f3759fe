import type { OffloadStats, OffloadStatsCounter } from './types.js';

/**
 * `ovs-appctl dpctl/offload-stats-show` on a userspace (DPDK) datapath. Two formats:
 *
 * OVS 2.16–3.x (lib/dpif-netdev.c dpif_netdev_offload_stats_get, printed by lib/dpctl.c as
 * `"   %s: %6"PRIu64`): `Total <name>` aggregates, then `[  N] <name>` per offload thread.
 *
 *     HW Offload stats:
 *        Total                 Enqueued offloads:      0
 *        [  0]                 Inserted offloads:      3
 *
 * Newer OVS (lib/dpif-offload*.c): one labelled section per offload provider,
 * `  <label>:` then `    <name>: <value>` (tests/ofproto-dpif.at).
 *
 *     HW Offload stats:
 *       dummy[dummy@ovs-dummy]:
 *         Offloaded port count:      3
 */

const COUNTER = /^\s*(.*?):\s+(\d+)\s*$/;
const LABEL = /^\s*(\S.*):\s*$/;
const THREAD = /^\[\s*(\d+)\]\s+(.*)$/;
const TOTAL = /^Total\s+(.*)$/;

function counter(section: string | null, rawName: string, value: string): OffloadStatsCounter {
  const name = rawName.trim();
  const t = THREAD.exec(name);
  const total = TOTAL.exec(name);
  const big = BigInt(value);
  const v = big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : value;
  if (t) return { section, thread: Number(t[1]), name: (t[2] ?? '').trim(), value: v };
  if (total) return { section, thread: 'total', name: (total[1] ?? '').trim(), value: v };
  return { section, thread: null, name, value: v };
}

/** Parses the output; lines it does not understand are kept in `unparsed`. */
export function parseOffloadStats(text: string): OffloadStats {
  const counters: OffloadStatsCounter[] = [];
  const unparsed: string[] = [];
  let section: string | null = null;
  let header = false;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (/^HW Offload stats:\s*$/.test(line)) {
      header = true;
      continue;
    }
    const c = COUNTER.exec(line);
    if (c) {
      counters.push(counter(section, c[1] ?? '', c[2] ?? '0'));
      continue;
    }
    const l = LABEL.exec(line);
    if (l) {
      section = (l[1] ?? '').trim();
      continue;
    }
    unparsed.push(line);
  }
  return { header, counters, unparsed };
}

/** "inserted 3, enqueued 0" style total of the counters named like `what` (case-insensitive). */
export function statsTotal(stats: OffloadStats, what: RegExp): number | null {
  const totals = stats.counters.filter((c) => what.test(c.name));
  if (totals.length === 0) return null;
  const explicit = totals.filter((c) => c.thread === 'total');
  const use = explicit.length > 0 ? explicit : totals.filter((c) => c.thread === null);
  const src = use.length > 0 ? use : totals;
  return src.reduce((sum, c) => sum + Number(c.value), 0);
}

export function offloadStatsArgv(target: string | undefined): string[] {
  return [
    'ovs-appctl',
    ...(target === undefined ? [] : ['-t', target]),
    'dpctl/offload-stats-show',
  ];
}
