import { describe, expect, it } from 'vitest';
import {
  describeDpdkPf,
  dpdkRepresentedVf,
  isBifurcated,
  parseDpdkDevargs,
  planEswitch,
} from '../../../src/representor/index.js';
import { InvalidInputError } from '../../../src/sys/index.js';
import type { PfInfo, VfInfo } from '../../../src/vf/index.js';
import { dpdkPfInfo } from '../../helpers/pf-info.js';

function vf(i: number): VfInfo {
  return {
    vfIndex: i,
    pci: `0000:81:00.${i + 2}`,
    vendor: '8086',
    device: '1889',
    driver: 'iavf',
    driverOverride: null,
    numa: 0,
    netdevs: [],
    netdev: null,
    mac: null,
    operstate: null,
    carrier: null,
    iommuGroup: null,
    rdma: [],
    rdmaDevices: [],
    representor: null,
  };
}

const pf = (p: Partial<PfInfo>): PfInfo =>
  dpdkPfInfo({
    pci: '0000:81:00.0',
    vendor: '8086',
    device: '1592',
    totalVfs: 16,
    numVfs: 2,
    vfs: [vf(0), vf(1)],
    ...p,
  });

describe('parseDpdkDevargs', () => {
  it.each([
    ['0000:81:00.0,representor=[1]', '0000:81:00.0', { vfs: [1], pf: null, hostLocal: true }],
    ['0000:81:00.0,representor=vf3', '0000:81:00.0', { vfs: [3], pf: null, hostLocal: true }],
    ['0000:03:00.0,representor=pf0vf2', '0000:03:00.0', { vfs: [2], pf: 0, hostLocal: true }],
    [
      '0000:03:00.0,representor=pf1vf[0-2]',
      '0000:03:00.0',
      { vfs: [0, 1, 2], pf: 1, hostLocal: true },
    ],
    [
      '0000:03:00.0,representor=[0,2,5-6]',
      '0000:03:00.0',
      { vfs: [0, 2, 5, 6], pf: null, hostLocal: true },
    ],
    ['0000:03:00.0,representor=c1pf0vf1', '0000:03:00.0', { vfs: [1], pf: 0, hostLocal: false }],
    ['0000:B3:00.0', '0000:b3:00.0', null],
    ['0000:b3:00.0,class=eth,dv_flow_en=1', '0000:b3:00.0', null],
  ])('%s', (text, pci, representor) => {
    expect(parseDpdkDevargs(text)).toEqual({ device: text.split(',')[0], pci, representor });
  });

  it('a vdev names no PCI device; garbage in representor= is not a VF', () => {
    expect(parseDpdkDevargs('net_af_packet0,iface=rep0')).toEqual({
      device: 'net_af_packet0',
      pci: null,
      representor: null,
    });
    expect(parseDpdkDevargs('0000:03:00.0,representor=sf1')?.representor).toEqual({
      vfs: [],
      pf: null,
      hostLocal: false,
    });
    expect(parseDpdkDevargs('  ')).toBeNull();
  });

  it('dpdkRepresentedVf: exactly one host-local VF of that PF', () => {
    const one = parseDpdkDevargs('0000:81:00.0,representor=[1]')!;
    expect(dpdkRepresentedVf(one, '0000:81:00.0')).toBe(1);
    expect(dpdkRepresentedVf(one, '0000:81:00.1')).toBeNull();
    expect(
      dpdkRepresentedVf(parseDpdkDevargs('0000:81:00.0,representor=[0-3]')!, '0000:81:00.0'),
    ).toBeNull();
    expect(dpdkRepresentedVf(parseDpdkDevargs('0000:81:00.0')!, '0000:81:00.0')).toBeNull();
  });
});

describe('planEswitch on a DPDK-owned PF', () => {
  it('only the VF count is planned; nothing at all when it is right', () => {
    expect(planEswitch(pf({}), { numVfs: 4 })).toEqual([
      { strategy: 'mlx5', op: 'setNumVfs', numVfs: 4 },
    ]);
    expect(planEswitch(pf({}), {})).toEqual([]);
    // driverless VFs are not "probed back" and no hw-tc-offload step: there is no netdev
    expect(planEswitch(pf({ vfs: [{ ...vf(0), driver: null }] }), { numVfs: 2 })).toEqual([]);
  });

  it('an eswitchMode in the policy is refused, naming the driver', () => {
    for (const mode of ['switchdev', 'legacy'] as const) {
      expect(() => planEswitch(pf({}), { eswitchMode: mode })).toThrow(InvalidInputError);
      expect(() => planEswitch(pf({}), { eswitchMode: mode })).toThrow(
        /bound to vfio-pci: its eswitch belongs to the DPDK PMD/,
      );
    }
  });

  it('numVfs above sriov_totalvfs is still refused first', () => {
    expect(() => planEswitch(pf({}), { numVfs: 17 })).toThrow(/above sriov_totalvfs 16/);
  });
});

describe('describeDpdkPf', () => {
  it('vfio-pci: no netdev, VFs from virtfn links, representors are DPDK ports', () => {
    expect(describeDpdkPf(pf({}))).toEqual([
      "bound to vfio-pci: no PF netdev, no devlink answer; 2 VFs indexed by their virtfn links; the eswitch is the PMD's and VF representors are DPDK ports (dpdk-devargs=0000:81:00.0,representor=…)",
    ]);
  });

  it('bifurcated mlx5/xsc keep the PF netdev; legacy eswitch is called out', () => {
    const mlx = pf({
      driver: 'mlx5_core',
      vendor: '15b3',
      netdev: 'enp3s0f0np0',
      eswitchMode: 'legacy',
    });
    expect(isBifurcated(mlx)).toBe(true);
    expect(describeDpdkPf(mlx)).toEqual([
      'bifurcated PMD: mlx5_core keeps the PF netdev enp3s0f0np0; DPDK opens 0000:81:00.0 alongside it; 2 VFs indexed by their virtfn links',
      'eswitch is legacy: the PMD makes VF representors only in switchdev (eswitchMode: switchdev in nics[])',
    ]);
    const xsc = pf({
      driver: 'xsc_pci',
      vendor: '1f67',
      netdev: 'ens3f0',
      eswitchMode: 'switchdev',
    });
    expect(isBifurcated(xsc)).toBe(true);
    expect(describeDpdkPf(xsc)).toHaveLength(1);
  });

  it('a non-bifurcated kernel driver needs vfio-pci first (never rebound here)', () => {
    const ice = pf({ driver: 'ice', netdev: 'ens1f0', eswitchMode: 'switchdev' });
    expect(isBifurcated(ice)).toBe(false);
    expect(describeDpdkPf(ice)).toEqual([
      'ice is not a bifurcated driver: a DPDK PMD can open this PF only once it is bound to vfio-pci (which removes its netdev ens1f0); nothing here rebinds a PF',
    ]);
  });
});
