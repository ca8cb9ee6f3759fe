import { describe, expect, it } from 'vitest';
import {
  matchRepresentors,
  parsePhysPortName,
  parsePortShow,
  pfNumbers,
  pickUplink,
  type NetdevInfo,
} from '../../../src/vf/index.js';
import { capture, devlinkPortTextToJson } from '../../helpers/captures.js';

const nd = (
  name: string,
  physPortName: string | null,
  physSwitchId: string | null = 'sw1',
): NetdevInfo => ({
  name,
  mac: null,
  operstate: null,
  carrier: null,
  physPortName,
  physSwitchId,
  devPort: null,
});

describe('phys_port_name grammar (devlink core)', () => {
  it.each([
    ['p0', { kind: 'physical', port: 0, split: null }],
    ['p1s2', { kind: 'physical', port: 1, split: 2 }],
    ['l2p3', { kind: 'physical', port: 3, split: null }],
    ['pf0', { kind: 'pf', controller: null, pf: 0 }],
    ['c1pf0', { kind: 'pf', controller: 1, pf: 0 }],
    ['pf0vf3', { kind: 'vf', controller: null, pf: 0, vf: 3 }],
    ['pf1vf12\n', { kind: 'vf', controller: null, pf: 1, vf: 12 }],
    ['c1pf0vf3', { kind: 'vf', controller: 1, pf: 0, vf: 3 }],
    ['c0pf0vf3', { kind: 'vf', controller: 0, pf: 0, vf: 3 }],
    ['pf0sf7', { kind: 'sf', controller: null, pf: 0, sf: 7 }],
    ['3', { kind: 'legacyVf', vf: 3 }],
    ['pf0hpf', { kind: 'other', text: 'pf0hpf' }],
    ['pf0vfr3', { kind: 'other', text: 'pf0vfr3' }],
    ['', { kind: 'other', text: '' }],
  ])('%j', (text, want) => {
    expect(parsePhysPortName(text)).toEqual(want);
  });
});

describe('pickUplink', () => {
  it.each<[string, NetdevInfo[], { legacyPortNames?: boolean }, string | null]>([
    [
      'p<N> with a switch id, not the first entry',
      [nd('a_rep', 'pf0vf0'), nd('zz', 'p0')],
      {},
      'zz',
    ],
    ['legacy mode: p0 without switch id is no uplink', [nd('eth0', 'p0', null)], {}, null],
    ['empty switch id is none', [nd('eth0', 'p0', '')], {}, null],
    [
      'nfp with two physical ports: the lowest',
      [nd('p1n', 'p1'), nd('p0n', 'p0'), nd('pf0', 'pf0')],
      {},
      'p0n',
    ],
    ['split port', [nd('e0', 'p0s1'), nd('e1', 'pf0vf0')], {}, 'e0'],
    [
      'old kernel: unnamed switch port only with legacyPortNames',
      [nd('eth0', null), nd('r0', '0')],
      {},
      null,
    ],
    [
      'old kernel, legacyPortNames',
      [nd('eth0', null), nd('r0', '0')],
      { legacyPortNames: true },
      'eth0',
    ],
    [
      'hypervisor VF netdev: virtual p0 without switch id',
      [nd('enp5s0f0np0v0', 'p0', null)],
      {},
      null,
    ],
  ])('%s', (_name, netdevs, opts, want) => {
    expect(pickUplink(netdevs, opts)?.name ?? null).toBe(want);
  });
});

describe('matchRepresentors: devlink port show first', () => {
  const pfPci = '0000:03:00.0';
  const port = (idx: number, attrs: Record<string, unknown>): [string, Record<string, unknown>] => [
    `pci/${pfPci}/${idx}`,
    { type: 'eth', ...attrs },
  ];

  it.each<[string, Record<string, unknown>, number, string | null]>([
    [
      'controller 0, external false',
      { netdev: 'r2', flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: 2, external: false },
      2,
      'r2',
    ],
    [
      'no controller/external (older kernel)',
      { netdev: 'r2', flavour: 'pcivf', pfnum: 0, vfnum: 2 },
      2,
      'r2',
    ],
    [
      'external controller 1 (a DPU sees the host)',
      { netdev: 'c1pf0vf2', flavour: 'pcivf', controller: 1, pfnum: 0, vfnum: 2, external: true },
      2,
      null,
    ],
    [
      'external with controller 0',
      { netdev: 'c0pf0vf2', flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: 2, external: true },
      2,
      null,
    ],
    [
      'controller 1 without external',
      { netdev: 'c1pf0vf2', flavour: 'pcivf', controller: 1, pfnum: 0, vfnum: 2 },
      2,
      null,
    ],
    [
      'pcisf with the same number',
      { netdev: 'sf2', flavour: 'pcisf', controller: 0, pfnum: 0, sfnum: 2, external: false },
      2,
      null,
    ],
    ['pcipf', { netdev: 'pf0hpf', flavour: 'pcipf', pfnum: 0 }, 0, null],
    [
      'another vfnum',
      { netdev: 'r3', flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: 3, external: false },
      2,
      null,
    ],
    [
      'a pcivf port without netdev yet',
      { flavour: 'pcivf', controller: 0, pfnum: 0, vfnum: 2, external: false },
      2,
      null,
    ],
  ])('%s', (_name, attrs, vf, want) => {
    const ports = parsePortShow({
      stdout: JSON.stringify({ port: Object.fromEntries([port(7, attrs)]) }),
    });
    const m = matchRepresentors({ pfPci, netdevs: [], ports, vfIndexes: [0, 1, 2, 3] });
    expect(m.get(vf) ?? null).toBe(want);
  });

  it('only ports of this PF handle count, even with the same vfnum', () => {
    const ports = parsePortShow({
      stdout: JSON.stringify({
        port: {
          'pci/0000:03:00.1/2': {
            netdev: 'other',
            flavour: 'pcivf',
            controller: 0,
            pfnum: 1,
            vfnum: 0,
            external: false,
          },
        },
      }),
    });
    expect(matchRepresentors({ pfPci, netdevs: [], ports, vfIndexes: [0] }).size).toBe(0);
  });

  it('two ports claiming one VF: left unmapped, and sysfs is not asked to guess', () => {
    const ports = parsePortShow({
      stdout: JSON.stringify({
        port: Object.fromEntries([
          port(1, { netdev: 'a', flavour: 'pcivf', vfnum: 0 }),
          port(2, { netdev: 'b', flavour: 'pcivf', vfnum: 0 }),
        ]),
      }),
    });
    const m = matchRepresentors({
      pfPci,
      netdevs: [nd('up', 'p0'), nd('c', 'pf0vf0')],
      ports,
      vfIndexes: [0],
    });
    expect(m.has(0)).toBe(false);
  });

  it('DPU capture, old format without controller (novaspec): pf<N>vf<M> per PF handle, never pf<N>hpf or p<N>', () => {
    const ports = parsePortShow({
      stdout: JSON.stringify(
        devlinkPortTextToJson(capture('novaspec-dpu-pf0hpf-old-format-no-controller.txt')),
      ),
    });
    expect(ports).toHaveLength(12);
    const pf0 = matchRepresentors({
      pfPci: '0000:03:00.0',
      netdevs: [],
      ports,
      vfIndexes: [0, 1, 2, 3, 4],
    });
    const pf1 = matchRepresentors({
      pfPci: '0000:03:00.1',
      netdevs: [],
      ports,
      vfIndexes: [0, 1, 2, 3],
    });
    expect([...pf0]).toEqual([
      [0, 'pf0vf0'],
      [1, 'pf0vf1'],
      [2, 'pf0vf2'],
      [3, 'pf0vf3'],
    ]);
    expect([...pf1.values()]).toEqual(['pf1vf0', 'pf1vf1', 'pf1vf2', 'pf1vf3']);
    expect(pfNumbers('0000:03:00.1', ports, null)).toEqual([1]);
  });

  it('hypervisor capture (novaspec): flavour virtual VF netdevs are not representors of any PF', () => {
    const ports = parsePortShow({
      stdout: JSON.stringify(
        devlinkPortTextToJson(capture('novaspec-hypervisor-flavour-virtual-port0.txt')),
      ),
    });
    for (const pfPci of ['0000:05:00.0', '0000:05:00.1']) {
      expect(matchRepresentors({ pfPci, netdevs: [], ports, vfIndexes: [0, 1, 2, 3] }).size).toBe(
        0,
      );
    }
  });
});

describe('matchRepresentors: sysfs fallback', () => {
  it('uses this PF number when devlink says nothing: PCI function and uplink p<N> agree', () => {
    const reps = [nd('r10', 'pf1vf0'), nd('r00', 'pf0vf0')];
    expect([
      ...matchRepresentors({
        pfPci: '0000:03:00.1',
        netdevs: [nd('up1', 'p1'), ...reps],
        ports: [],
        vfIndexes: [0],
      }),
    ]).toEqual([[0, 'r10']]);
    expect([
      ...matchRepresentors({
        pfPci: '0000:03:00.0',
        netdevs: [nd('up0', 'p0'), ...reps],
        ports: [],
        vfIndexes: [0],
      }),
    ]).toEqual([[0, 'r00']]);
    // no uplink found (e.g. mid-rename): the PCI function alone decides
    expect([
      ...matchRepresentors({ pfPci: '0000:03:00.1', netdevs: reps, ports: [], vfIndexes: [0] }),
    ]).toEqual([[0, 'r10']]);
  });

  it("recent ice names reps by hw pf_id, which the uplink's p<N> carries too", () => {
    // A PF on PCI function 2 whose firmware PF id is 0: both numbers are this PF's.
    const netdevs = [nd('up', 'p0'), nd('r0', 'pf0vf0'), nd('r1', 'pf2vf1'), nd('x', 'pf1vf2')];
    const m = matchRepresentors({
      pfPci: '0000:51:00.2',
      netdevs,
      ports: [],
      vfIndexes: [0, 1, 2],
    });
    expect([...m]).toEqual([
      [0, 'r0'],
      [1, 'r1'],
    ]);
    expect(pfNumbers('0000:51:00.2', [], netdevs[0]!)).toEqual([2, 0]);
    // a split uplink's port number says nothing about the PF
    expect(pfNumbers('0000:51:00.2', [], nd('up', 'p0s1'))).toEqual([2]);
  });

  it('a switch port of another switch is not a representor of this PF', () => {
    const netdevs = [nd('up', 'p0', 'sw1'), nd('foreign', 'pf0vf0', 'sw2')];
    expect(
      matchRepresentors({ pfPci: '0000:03:00.0', netdevs, ports: [], vfIndexes: [0] }).size,
    ).toBe(0);
  });

  it('only VFs that exist are mapped', () => {
    const netdevs = [nd('up', 'p0'), nd('r5', 'pf0vf5')];
    expect(
      matchRepresentors({ pfPci: '0000:03:00.0', netdevs, ports: [], vfIndexes: [0, 1] }).size,
    ).toBe(0);
  });
});
