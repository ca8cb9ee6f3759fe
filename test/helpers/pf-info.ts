import type { PfInfo } from '../../src/vf/index.js';

/** A PF on a user-space driver (no netdev, no devlink answer), with the fields a test sets. */
export function dpdkPfInfo(p: Partial<PfInfo>): PfInfo {
  return {
    pci: '0000:b3:00.0',
    vendor: '1f67',
    device: '1111',
    driver: 'vfio-pci',
    numa: 0,
    iommuGroup: 1,
    netdevs: [],
    netdev: null,
    uplink: null,
    physPortName: null,
    physSwitchId: null,
    mac: null,
    operstate: null,
    carrier: null,
    totalVfs: 8,
    numVfs: 0,
    autoprobe: true,
    eswitchMode: 'dpdk',
    eswitchInactive: false,
    vfs: [],
    ...p,
  };
}
