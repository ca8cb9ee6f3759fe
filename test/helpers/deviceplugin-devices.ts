import type { PfState, PoolDevice } from '../../src/deviceplugin/model.js';

/** Plain-object devices for the device plugin's pure parts (a ConnectX-5 VF by default). */
export function vf(over: Partial<PoolDevice> & { pci: string }): PoolDevice {
  return {
    vendor: '15b3',
    device: '1018',
    driver: 'mlx5_core',
    pfPci: '0000:03:00.0',
    pfName: 'enp3s0f0np0',
    vfIndex: 0,
    numa: 0,
    linkType: 'ether',
    rdma: [],
    rdmaDevice: null,
    iommuGroup: 10,
    vfioNoIommu: false,
    netdev: `vf-${over.pci.slice(-4)}`,
    representor: null,
    ...over,
  };
}

export function pf(over: Partial<PfState> & { pci: string }): PfState {
  return {
    name: 'enp3s0f0np0',
    uplink: 'enp3s0f0np0',
    linkUp: true,
    eswitchMode: 'switchdev',
    numVfs: 4,
    ...over,
  };
}
