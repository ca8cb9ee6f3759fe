import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseDumpText } from '../../../src/ovs/dpctl/index.js';
import {
  compareTc,
  filterHwPackets,
  parseTcFilters,
  TcParseError,
  tcFilterArgv,
  tcFlowRef,
  ufidCookies,
  type TcFlowRef,
} from '../../../src/offload/tc-filters.js';

/** `tc -s -j filter show dev <rep> ingress` (test/fixtures/tc/SOURCES.md) and its join with dpctl. */

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/tc');
const fixture = (name: string) => readFileSync(path.join(DIR, name), 'utf8');

function refsOf(dump: string): TcFlowRef[] {
  return parseDumpText(dump).flows.flatMap((f) => tcFlowRef(f) ?? []);
}

describe('parseTcFilters', () => {
  it('real: empty ingress (clsact without filters, or no qdisc) is [] → no filters', () => {
    expect(parseTcFilters(fixture('empty-ingress.real.json'))).toEqual([]);
    expect(parseTcFilters('')).toEqual([]);
  });

  it('real (WAGO): flower skip_sw in_hw in_hw_count, head entries skipped, matchall ignored', () => {
    const fs = parseTcFilters(fixture('wago-flower-matchall.json'));
    expect(fs.map((f) => [f.pref, f.handle, f.skipSw, f.inHw, f.inHwCount])).toEqual([
      [49150, 1, true, true, 1],
      [49152, 1, true, true, 1],
    ]);
    expect(fs[0]?.actions[0]).toMatchObject({ kind: 'police', cookie: null, hwPackets: null });
    expect(fs.every((f) => !f.notInHw && !f.skipHw && f.cookie === null)).toBe(true);
  });

  it('real (Go test): used_hw_stats delayed on a gact action, no -s stats → hw packets unknown', () => {
    const [f, ...rest] = parseTcFilters(fixture('go-flower-gact-used-hw-stats.json'));
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ protocol: 'ip', pref: 200, chain: 0, handle: 1, inHw: true });
    expect(f?.actions[0]).toMatchObject({ kind: 'gact', usedHwStats: ['delayed'] });
    expect(f && filterHwPackets(f)).toBeNull();
  });

  it('derived (iproute2 printer): cookies, hw_packets, not_in_hw, stats without hw_* = 0 in hardware', () => {
    const fs = parseTcFilters(fixture('ovs-pf0vf0-derived.json'));
    expect(fs.map((f) => [f.protocol, f.pref, f.inHw, f.notInHw, filterHwPackets(f)])).toEqual([
      ['ip', 2, true, false, 1200],
      ['arp', 3, false, true, 0],
      ['ip', 4, true, false, 0],
    ]);
    expect(fs[0]?.cookie).toBe('3e5a8a7c5e4d2b1c2211009f66554433');
    expect(fs[0]?.actions[0]).toMatchObject({ packets: 1200, hwBytes: 117600 });
  });

  it('not JSON, or not a filter list → TcParseError', () => {
    expect(() => parseTcFilters('Error: Cannot find device "nope".')).toThrow(TcParseError);
    expect(() => parseTcFilters('{"kind":"flower"}')).toThrow(TcParseError);
    expect(() => parseTcFilters('[{"pref":1}]')).toThrow(TcParseError);
  });

  it('runs tc with an argv array: -s for hardware stats, -j, the ingress hook', () => {
    expect(tcFilterArgv('pf0vf0')).toEqual([
      'tc',
      '-s',
      '-j',
      'filter',
      'show',
      'dev',
      'pf0vf0',
      'ingress',
    ]);
  });
});

describe('ufidCookies', () => {
  it('a ufid as OVS prints it → its u32 words little-endian (x86/arm64), then big-endian', () => {
    expect(ufidCookies('7c8a5a3e-1c2b-4d5e-9f00-112233445566')).toEqual([
      '3e5a8a7c5e4d2b1c2211009f66554433',
      '7c8a5a3e1c2b4d5e9f00112233445566',
    ]);
    expect(ufidCookies('not-a-ufid')).toEqual([]);
  });
});

describe('compareTc (dpctl ↔ TC)', () => {
  const filters = parseTcFilters(fixture('ovs-pf0vf0-derived.json'));
  const refs = refsOf(fixture('pf0vf0-dump.txt'));

  it('dp:tc flows are kept with ufid, in_port and packets; others are not', () => {
    expect(refs).toHaveLength(5);
    expect(
      refsOf(
        'ufid:11111111-2222-3333-4444-555555555555, in_port(a), packets:1, bytes:1, used:1.0s, dp:ovs, actions:b',
      ),
    ).toEqual([]);
  });

  it('a consistent port: filter in_hw with hardware packets for the offloaded flow → no reason', () => {
    const { view, reasons } = compareTc('pf0vf0', filters.slice(0, 1), refs.slice(0, 1));
    expect(reasons).toEqual([]);
    expect(view).toEqual({ filters: 1, inHw: 1, notInHw: 0, skipHw: 0, tcFlows: 1, missing: 0 });
  });

  it('the derived capture: no filter for ufid a1b2…, not_in_hw ARP filter, in_hw with 0 hw packets', () => {
    const { view, reasons } = compareTc('pf0vf0', filters, refs);
    expect(view).toEqual({ filters: 3, inHw: 2, notInHw: 1, skipHw: 0, tcFlows: 4, missing: 1 });
    expect(reasons.map((r) => r.code)).toEqual([
      'tc-filter-missing',
      'tc-not-in-hw',
      'tc-hw-counters-zero',
    ]);
    const [missing, notInHw, zero] = reasons;
    expect(missing?.message).toContain('a1b2c3d4-0000-4000-8000-00000000beef');
    expect(missing?.evidence?.[0]).toMatch(/^ufid:a1b2c3d4-.* no filter with cookie d4c3b2a1/);
    expect(notInHw?.evidence).toEqual([
      'tc filter dev pf0vf0 ingress pref 3 handle 0x1 not_in_hw cookie 2d6e1f0b2b4e3c4abbaa118dffeeddcc',
    ]);
    expect(notInHw?.fix).toContain('hw-tc-offload');
    expect(zero?.message).toContain('5d2e9a10-7f61-4c0e-b2a3-0123456789ab (500 packets in dpctl)');
    for (const r of reasons) expect(r.fix).not.toBeNull();
  });

  it('a dp:tc flow on an empty ingress (the real [] capture) → tc-filter-missing', () => {
    const { reasons } = compareTc(
      'pf0vf0',
      parseTcFilters(fixture('empty-ingress.real.json')),
      refs,
    );
    expect(reasons.map((r) => r.code)).toEqual(['tc-filter-missing']);
    expect(reasons[0]?.message).toMatch(/^3 flows OVS reports as offloaded/);
  });

  it('flows of another in_port are not looked for on this ingress', () => {
    const { view } = compareTc('pf0vf1', [], refs);
    expect(view.tcFlows).toBe(1);
  });
});
