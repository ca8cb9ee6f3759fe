import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  offloadStatsArgv,
  parseOffloadStats,
  statsTotal,
} from '../../../src/offload/offload-stats.js';

/** `ovs-appctl dpctl/offload-stats-show` (test/fixtures/offload-stats/SOURCES.md). */

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/offload-stats');
const fixture = (name: string) => readFileSync(path.join(DIR, name), 'utf8');

describe('parseOffloadStats', () => {
  it('OVS test suite: per-provider sections (newer OVS)', () => {
    const s = parseOffloadStats(fixture('ovs-tests-ofproto-dpif.txt'));
    expect(s.header).toBe(true);
    expect(s.unparsed).toEqual([]);
    expect(s.counters).toEqual([
      { section: 'dummy[dummy@ovs-dummy]', thread: null, name: 'Offloaded port count', value: 3 },
      { section: 'dummy_x[dummy@ovs-dummy]', thread: null, name: 'Offloaded port count', value: 0 },
    ]);
  });

  it('dpif-netdev 2.16–3.x: Total and per offload thread counters', () => {
    const s = parseOffloadStats(fixture('dpif-netdev-v3.3-derived.txt'));
    expect(s.unparsed).toEqual([]);
    expect(s.counters).toHaveLength(18);
    expect(s.counters[0]).toEqual({
      section: null,
      thread: 'total',
      name: 'Enqueued offloads',
      value: 12,
    });
    expect(s.counters.find((c) => c.thread === 1 && c.name === 'Inserted offloads')?.value).toBe(4);
    expect(s.counters[2]?.name).toBe('Cumulative Average latency (us)');
    expect(statsTotal(s, /^Inserted offloads$/)).toBe(9);
    expect(statsTotal(s, /^nothing$/)).toBeNull();
  });

  it('empty output, unknown lines kept, counters above 2^53 stay exact', () => {
    expect(parseOffloadStats('')).toEqual({ header: false, counters: [], unparsed: [] });
    const s = parseOffloadStats(
      'HW Offload stats:\n   Total Inserted offloads: 18446744073709551615\nweird\n',
    );
    expect(s.counters[0]?.value).toBe('18446744073709551615');
    expect(s.unparsed).toEqual(['weird']);
  });

  it('argv: ovs-appctl [-t target] dpctl/offload-stats-show', () => {
    expect(offloadStatsArgv(undefined)).toEqual(['ovs-appctl', 'dpctl/offload-stats-show']);
    expect(offloadStatsArgv('/run/x.ctl')).toEqual([
      'ovs-appctl',
      '-t',
      '/run/x.ctl',
      'dpctl/offload-stats-show',
    ]);
  });
});
