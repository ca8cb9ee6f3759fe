import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../src/sys/index.js';
import {
  describeStep,
  otherOrdering,
  planEswitch,
  strategyFor,
  type EswitchPolicy,
  type StrategyName,
} from '../../../src/representor/index.js';
import type { PfInfo } from '../../../src/vf/index.js';

function pf(p: Partial<PfInfo> & { numVfs: number }): PfInfo {
  return {
    pci: '0000:03:00.0',
    vendor: '15b3',
    device: '1017',
    driver: 'mlx5_core',
    numa: 0,
    iommuGroup: 1,
    netdevs: [],
    netdev: 'eth0',
    uplink: null,
    physPortName: 'p0',
    physSwitchId: null,
    mac: null,
    operstate: 'up',
    carrier: true,
    totalVfs: 16,
    autoprobe: true,
    eswitchMode: 'legacy',
    eswitchInactive: false,
    vfs: [],
    ...p,
  };
}

const ICE = { driver: 'ice', vendor: '8086', device: '1592' };
const XSC = { driver: 'xsc_pci', vendor: '1f67', device: '1111' };

describe('strategyFor', () => {
  it.each<[Partial<PfInfo>, StrategyName]>([
    [{ driver: 'mlx5_core', vendor: '15b3' }, 'mlx5'],
    [{ driver: 'ice', vendor: '8086' }, 'ice'],
    [{ driver: 'xsc_pci', vendor: '1f67' }, 'metascale'],
    [{ driver: null, vendor: '1f67' }, 'metascale'],
    [{ driver: 'nfp', vendor: '19ee' }, 'mlx5'],
    [{ driver: null, vendor: null }, 'mlx5'],
  ])('%j → %s', (p, want) => {
    expect(strategyFor(pf({ numVfs: 0, ...p }))).toBe(want);
  });

  it('the other ordering swaps "VFs first" and "VFs after"', () => {
    expect([otherOrdering('mlx5'), otherOrdering('ice'), otherOrdering('metascale')]).toEqual([
      'ice',
      'mlx5',
      'ice',
    ]);
  });
});

describe('planEswitch', () => {
  const ops = (state: PfInfo, policy: EswitchPolicy, strategy?: StrategyName) =>
    planEswitch(state, policy, strategy ? { strategy } : {}).map((s) =>
      s.op === 'setNumVfs'
        ? `numvfs ${s.numVfs}`
        : s.op === 'setEswitchMode'
          ? `mode ${s.mode}`
          : s.op,
    );

  it.each<[string, PfInfo, EswitchPolicy, string[]]>([
    [
      'mlx5 legacy with VFs → switchdev',
      pf({ numVfs: 4 }),
      { eswitchMode: 'switchdev' },
      ['unbindVfs', 'mode switchdev', 'rebindVfs', 'hwTcOffload'],
    ],
    [
      'mlx5 no VFs → switchdev with 4',
      pf({ numVfs: 0 }),
      { eswitchMode: 'switchdev', numVfs: 4 },
      ['numvfs 4', 'unbindVfs', 'mode switchdev', 'rebindVfs', 'hwTcOffload'],
    ],
    [
      'mlx5 2 → switchdev with 4',
      pf({ numVfs: 2 }),
      { eswitchMode: 'switchdev', numVfs: 4 },
      ['numvfs 4', 'unbindVfs', 'mode switchdev', 'rebindVfs', 'hwTcOffload'],
    ],
    [
      'mlx5 switchdev → legacy',
      pf({ numVfs: 4, eswitchMode: 'switchdev' }),
      { eswitchMode: 'legacy' },
      ['unbindVfs', 'mode legacy', 'rebindVfs'],
    ],
    [
      'mlx5 → switchdev with 0 VFs',
      pf({ numVfs: 4 }),
      { eswitchMode: 'switchdev', numVfs: 0 },
      ['numvfs 0', 'mode switchdev', 'hwTcOffload'],
    ],
    [
      'mlx5 switchdev, more VFs',
      pf({ numVfs: 4, eswitchMode: 'switchdev' }),
      { numVfs: 8 },
      ['numvfs 8', 'hwTcOffload'],
    ],
    [
      'mlx5 switchdev_inactive → switchdev',
      pf({ numVfs: 2, eswitchMode: 'switchdev', eswitchInactive: true }),
      { eswitchMode: 'switchdev' },
      ['unbindVfs', 'mode switchdev', 'rebindVfs', 'hwTcOffload'],
    ],
    [
      'ice legacy with VFs → switchdev',
      pf({ numVfs: 4, ...ICE }),
      { eswitchMode: 'switchdev' },
      ['numvfs 0', 'mode switchdev', 'numvfs 4', 'hwTcOffload'],
    ],
    [
      'ice no VFs → switchdev with 8',
      pf({ numVfs: 0, ...ICE }),
      { eswitchMode: 'switchdev', numVfs: 8 },
      ['mode switchdev', 'numvfs 8', 'hwTcOffload'],
    ],
    [
      'ice switchdev → legacy keeping 4',
      pf({ numVfs: 4, eswitchMode: 'switchdev', ...ICE }),
      { eswitchMode: 'legacy' },
      ['numvfs 0', 'mode legacy', 'numvfs 4'],
    ],
    [
      'metaScale no VFs → switchdev with 10',
      pf({ numVfs: 0, ...XSC }),
      { eswitchMode: 'switchdev', numVfs: 10 },
      ['numvfs 10', 'mode switchdev', 'hwTcOffload'],
    ],
    [
      'metaScale with VFs → switchdev',
      pf({ numVfs: 10, ...XSC }),
      { eswitchMode: 'switchdev' },
      ['mode switchdev', 'hwTcOffload'],
    ],
    [
      'already switchdev: only ensure hw-tc-offload',
      pf({ numVfs: 4, eswitchMode: 'switchdev' }),
      { eswitchMode: 'switchdev', numVfs: 4 },
      ['hwTcOffload'],
    ],
    ['already legacy', pf({ numVfs: 4 }), { eswitchMode: 'legacy', numVfs: 4 }, []],
    ['an empty policy leaves everything', pf({ numVfs: 4, eswitchMode: 'switchdev' }), {}, []],
    ['legacy, only the count', pf({ numVfs: 4 }), { numVfs: 2 }, ['numvfs 2']],
  ])('%s', (_name, state, policy, want) => {
    expect(ops(state, policy)).toEqual(want);
  });

  it('finishes an interrupted mlx5 bring-up: VFs left without a driver are probed again', () => {
    const vf = (i: number, driver: string | null) =>
      ({ vfIndex: i, pci: `0000:03:00.${i + 2}`, driver }) as PfInfo['vfs'][number];
    const state = pf({
      numVfs: 2,
      eswitchMode: 'switchdev',
      vfs: [vf(0, null), vf(1, 'mlx5_core')],
    });
    const steps = planEswitch(state, { eswitchMode: 'switchdev', numVfs: 2 });
    expect(steps.map((s) => s.op)).toEqual(['probeVfs', 'hwTcOffload']);
    expect(steps[0]).toMatchObject({ op: 'probeVfs', vfs: ['0000:03:00.2'] });
    // without autoprobe a driverless VF may be meant that way: left alone
    expect(
      planEswitch({ ...state, autoprobe: false }, { eswitchMode: 'switchdev' }).map((s) => s.op),
    ).toEqual(['hwTcOffload']);
  });

  it('a forced ordering (the executor retry) overrides the driver', () => {
    expect(ops(pf({ numVfs: 4 }), { eswitchMode: 'switchdev' }, 'ice')).toEqual([
      'numvfs 0',
      'mode switchdev',
      'numvfs 4',
      'hwTcOffload',
    ]);
    expect(ops(pf({ numVfs: 4, ...ICE }), { eswitchMode: 'switchdev' }, 'mlx5')).toEqual([
      'unbindVfs',
      'mode switchdev',
      'rebindVfs',
      'hwTcOffload',
    ]);
    const steps = planEswitch(pf({ numVfs: 4 }), { eswitchMode: 'switchdev' }, { strategy: 'ice' });
    expect(steps.every((s) => s.strategy === 'ice')).toBe(true);
  });

  it.each<[string, EswitchPolicy, RegExp]>([
    [
      'numVfs above sriov_totalvfs',
      { numVfs: 17 },
      /numVfs: 17 is above sriov_totalvfs 16 of 0000:03:00\.0/,
    ],
    ['a negative numVfs', { numVfs: -2 }, /numVfs: -2 is not a whole number/],
  ])('%s is refused', (_name, policy, message) => {
    expect(() => planEswitch(pf({ numVfs: 4 }), policy)).toThrow(InvalidInputError);
    expect(() => planEswitch(pf({ numVfs: 4 }), policy)).toThrow(message);
  });

  it('describes each step', () => {
    const steps = planEswitch(pf({ numVfs: 0 }), { eswitchMode: 'switchdev', numVfs: 2 });
    expect(steps.map((s) => describeStep('0000:03:00.0', s))).toEqual([
      'write 2 to sriov_numvfs (0 first when changing between non-zero counts)',
      'unbind the VFs from their network driver (vfio-pci VFs stay bound)',
      'devlink dev eswitch set pci/0000:03:00.0 mode switchdev',
      'bind those VFs back to the drivers they had',
      'ethtool -K <uplink and each representor> hw-tc-offload on, checked with ethtool -k',
    ]);
  });
});
