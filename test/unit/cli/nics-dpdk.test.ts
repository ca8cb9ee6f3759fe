import { describe, expect, it } from 'vitest';
import { dpdkPfs, dpdkPlanText, type VswitchdView } from '../../../src/cli/commands/nics.js';
import type { VswitchdDpdk } from '../../../src/offload/index.js';
import type { PlannedNic } from '../../../src/representor/index.js';
import type { PfInfo } from '../../../src/vf/index.js';
import { dpdkPfInfo } from '../../helpers/pf-info.js';

/** `nics apply --plan`: the DPDK part (which PFs, how each is driven, what vswitchd needs). */

const pf = (p: Partial<PfInfo>): PfInfo => dpdkPfInfo(p);

const vfio: PlannedNic = { policy: { pci: '0000:b3:00.0' }, pf: pf({}), steps: [] };
const mlx = (representorType?: 'auto' | 'netdev' | 'dpdk'): PlannedNic => ({
  policy: { pci: '0000:03:00.0', ...(representorType ? { representorType } : {}) },
  pf: pf({
    pci: '0000:03:00.0',
    driver: 'mlx5_core',
    vendor: '15b3',
    netdev: 'enp3s0f0np0',
    eswitchMode: 'switchdev',
  }),
  steps: [],
});

const READY: VswitchdDpdk = {
  dpdkInit: 'true',
  initialized: true,
  hwOffload: true,
  datapathTypes: { 'br-int': 'netdev' },
};
const view = (vs: VswitchdDpdk): VswitchdView => ({ vs });

describe('dpdkPfs', () => {
  it('vfio-pci PFs always; explicit dpdk; auto only when vswitchd says so', () => {
    expect(dpdkPfs([vfio, mlx()], null, 'br-int').map((p) => p.pf.pci)).toEqual(['0000:b3:00.0']);
    expect(dpdkPfs([mlx('dpdk')], null, 'br-int')).toHaveLength(1);
    expect(dpdkPfs([mlx('netdev')], view(READY), 'br-int')).toHaveLength(0);
    expect(dpdkPfs([mlx('auto')], view(READY), 'br-int')).toHaveLength(1);
    expect(dpdkPfs([mlx()], view({ ...READY, initialized: false }), 'br-int')).toHaveLength(0);
    expect(dpdkPfs([mlx()], { error: 'x' }, 'br-int')).toHaveLength(0);
  });
});

describe('dpdkPlanText', () => {
  it('nothing when no PF goes through DPDK (the kernel plan stays as it was)', () => {
    expect(dpdkPlanText([mlx()], null, { bridge: 'br-int' })).toEqual([]);
  });

  it('vfio-pci and bifurcated PFs, then each vswitchd finding, reported not changed', () => {
    const lines = dpdkPlanText(
      [vfio, mlx('dpdk')],
      view({ ...READY, hwOffload: null, datapathTypes: { 'br-int': '' } }),
      { bridge: 'br-int', hwOffload: true },
    );
    expect(lines[0]).toBe('DPDK representors:');
    expect(lines[1]).toMatch(
      /^ {2}0000:b3:00\.0: bound to vfio-pci: no PF netdev, no devlink answer/,
    );
    expect(lines[2]).toMatch(
      /^ {2}0000:03:00\.0: bifurcated PMD: mlx5_core keeps the PF netdev enp3s0f0np0/,
    );
    expect(lines.slice(3).filter((l) => !l.includes('fix:'))).toEqual([
      '  ok   dpdk-init: other_config:dpdk-init=true',
      '  ok   dpdk_initialized: dpdk_initialized=true',
      '  FAIL hw-offload: other_config:hw-offload is not set: rte_flow gets no flow, everything stays in the PMD threads (the agent sets it at start: ovs.hwOffload is true)',
      '  FAIL datapath_type: bridge br-int datapath_type=system (unset): DPDK ports live only on the userspace datapath',
    ]);
    expect(lines.filter((l) => l.includes('fix:'))).toHaveLength(2);
  });

  it('OVSDB unreachable: said, not guessed', () => {
    expect(dpdkPlanText([vfio], { error: 'unix:/x: ENOENT' }, { bridge: 'br-int' })).toEqual([
      'DPDK representors:',
      expect.stringMatching(/^ {2}0000:b3:00\.0: bound to vfio-pci/),
      '  ovs-vswitchd: not checked (unix:/x: ENOENT)',
    ]);
  });
});
