import { describe, expect, it } from 'vitest';
import { classifyFlow, PortTally, tallyFlows } from '../../../src/offload/index.js';
import { parseDump } from '../../../src/ovs/dpctl/index.js';
import { flowLine, flows } from './flows.js';

describe('classifyFlow', () => {
  it.each([
    ['offloaded:yes dp:tc', { offloaded: 'yes', dp: 'tc' }, 'offloaded'],
    ['offloaded:yes dp:dpdk', { offloaded: 'yes', dp: 'dpdk' }, 'offloaded'],
    ['offloaded:partial dp:dpdk', { offloaded: 'partial', dp: 'dpdk' }, 'partial'],
    ['dp:ovs', { dp: 'ovs' }, 'software'],
    ['dp:tc without offloaded (skip_hw)', { dp: 'tc' }, 'software'],
    ['dp:dpdk without offloaded', { dp: 'dpdk' }, 'software'],
    ['neither field (no -m)', {}, 'unknown'],
  ] as const)('%s', (_name, spec, cls) => {
    const [f] = flows({ in: 'a', out: ['b'], ...spec });
    expect(classifyFlow(f!)).toBe(cls);
  });
});

describe('PortTally', () => {
  it('counts a flow once for every port it touches: in_port and each top-level output', () => {
    const t = new PortTally();
    for (const f of flows(
      { in: 'a', out: ['b', 'c'], packets: 3, dp: 'ovs' },
      { in: 'b', out: ['a', 'a'], packets: 5, offloaded: 'yes', dp: 'tc' },
      { in: 'c', actions: 'set(tunnel(tun_id=0x4,dst=1.2.3.4)),clone(d)', dp: 'ovs' },
    ))
      t.add(f);
    expect(t.tokens()).toEqual(['a', 'b', 'c']);
    expect(t.port('a')!.get()).toMatchObject({
      total: 2,
      offloaded: { flows: 1, packets: 5 },
      software: { flows: 1, packets: 3 },
    });
    // `d` is only inside clone(): not a top-level output
    expect(t.port('d')).toBeUndefined();
    expect(t.port('c')!.get().total).toBe(2);
    expect(t.all.get()).toMatchObject({ total: 3, software: { flows: 2 } });
  });

  it('sums counters exactly past 2^53, printed as decimal strings', () => {
    const t = new PortTally();
    const big = '9007199254740993'; // 2^53 + 1: not a JS number
    for (const f of flows(
      { in: 'a', packets: big, bytes: '18446744073709551615', offloaded: 'yes', dp: 'tc' },
      { in: 'a', packets: 1, bytes: 1, offloaded: 'yes', dp: 'tc' },
      { in: 'a', packets: 2 ** 52, bytes: 2 ** 52, dp: 'ovs' },
      { in: 'a', packets: 2 ** 52, bytes: 2 ** 52, dp: 'ovs' },
    ))
      t.add(f);
    const a = t.port('a')!.get();
    expect(a.offloaded).toEqual({
      flows: 2,
      packets: '9007199254740994',
      bytes: '18446744073709551616',
    });
    // 2^53 is above MAX_SAFE_INTEGER: a string, exact
    expect(a.software.packets).toBe('9007199254740992');
  });

  it('offloaded flows with packets:0 are counted as "counters not reported", not as idle', () => {
    const t = new PortTally();
    for (const f of flows(
      { in: 'a', packets: 0, bytes: 0, offloaded: 'yes', dp: 'tc' },
      { in: 'a', packets: 0, bytes: 0, dp: 'ovs' },
    ))
      t.add(f);
    expect(t.port('a')!.get()).toMatchObject({ total: 2, countersNotReported: 1 });
  });

  it('keeps the first unparsable lines and counts all of them', async () => {
    const lines = [flowLine({ in: 'a', dp: 'ovs' })];
    for (let i = 0; i < 25; i++) lines.push(`garbage ${i}`);
    const t = await tallyFlows(parseDump([lines.join('\n')]));
    expect(t.errorCount).toBe(25);
    expect(t.errors).toHaveLength(10);
    expect(t.errors[0]).toMatchObject({ line: 2, raw: 'garbage 0' });
    expect(t.all.get().total).toBe(1);
  });

  it('folds lines split across chunks into one accumulator per port', async () => {
    async function* chunks() {
      for (let i = 0; i < 20_000; i++) {
        const line = flowLine({ in: `p${i % 4}`, out: [`p${(i + 1) % 4}`], dp: 'ovs' });
        // split every line across two chunks, as a pipe does
        yield line.slice(0, 17);
        yield `${line.slice(17)}\n`;
      }
    }
    const t = await tallyFlows(parseDump(chunks()));
    expect(t.tokens().sort()).toEqual(['p0', 'p1', 'p2', 'p3']);
    expect(t.all.get().total).toBe(20_000);
    expect(t.port('p0')!.get().total).toBe(10_000);
  });
});
