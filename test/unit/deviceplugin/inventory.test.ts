import { describe, expect, it } from 'vitest';
import { fromInventory, linkTypeName, portUp } from '../../../src/deviceplugin/inventory.js';
import type { Inventory, PfInfo, VfInfo } from '../../../src/vf/index.js';

const vfInfo = (over: Partial<VfInfo> & { vfIndex: number; pci: string }): VfInfo => ({
  vendor: '15b3',
  device: '1018',
  driver: 'mlx5_core',
  driverOverride: null,
  numa: null,
  netdevs: [],
  netdev: null,
  mac: null,
  operstate: null,
  carrier: null,
  iommuGroup: null,
  rdma: [],
  rdmaDevices: [],
  representor: null,
  ...over,
});

const pfInfo = (over: Partial<PfInfo>): PfInfo => ({
  pci: '0000:03:00.0',
  vendor: '15b3',
  device: '1017',
  driver: 'mlx5_core',
  numa: 1,
  iommuGroup: 3,
  netdevs: [],
  netdev: 'enp3s0f0np0',
  uplink: 'enp3s0f0np0',
  physPortName: 'p0',
  physSwitchId: 'abc',
  mac: null,
  operstate: 'up',
  carrier: true,
  totalVfs: 8,
  numVfs: 2,
  autoprobe: true,
  eswitchMode: 'switchdev',
  eswitchInactive: false,
  vfs: [],
  ...over,
});

describe('inventory → device plugin model', () => {
  it('maps PFs and VFs, inheriting the PF NUMA node and link type, and flags no-IOMMU groups', () => {
    const inv: Inventory = {
      pfs: [
        pfInfo({
          vfs: [
            vfInfo({
              vfIndex: 0,
              pci: '0000:03:00.2',
              netdev: 'enp3s0f0v0',
              representor: 'enp3s0f0np0_0',
              rdma: ['uverbs4'],
              rdmaDevices: ['mlx5_4'],
              iommuGroup: 20,
            }),
            vfInfo({
              vfIndex: 1,
              pci: '0000:03:00.3',
              driver: 'vfio-pci',
              iommuGroup: 21,
              numa: 0,
            }),
          ],
        }),
      ],
    };
    const snap = fromInventory(inv, {
      netdevTypes: new Map([
        ['enp3s0f0np0', '1'],
        ['enp3s0f0v0', '32'],
      ]),
      noIommuGroups: new Set([21]),
    });
    expect(snap.pfs).toEqual([
      {
        pci: '0000:03:00.0',
        name: 'enp3s0f0np0',
        uplink: 'enp3s0f0np0',
        linkUp: true,
        eswitchMode: 'switchdev',
        numVfs: 2,
      },
    ]);
    expect(snap.devices).toEqual([
      {
        pci: '0000:03:00.2',
        vendor: '15b3',
        device: '1018',
        driver: 'mlx5_core',
        pfPci: '0000:03:00.0',
        pfName: 'enp3s0f0np0',
        vfIndex: 0,
        numa: 1,
        linkType: 'infiniband',
        rdma: ['uverbs4'],
        rdmaDevice: 'mlx5_4',
        iommuGroup: 20,
        vfioNoIommu: false,
        netdev: 'enp3s0f0v0',
        representor: 'enp3s0f0np0_0',
      },
      expect.objectContaining({
        pci: '0000:03:00.3',
        numa: 0,
        linkType: 'ether',
        vfioNoIommu: true,
        netdev: null,
      }),
    ]);
  });

  it('a PF without a netdev has no link', () => {
    const snap = fromInventory(
      { pfs: [pfInfo({ netdev: null, uplink: null })] },
      { netdevTypes: new Map(), noIommuGroups: new Set() },
    );
    expect(snap.pfs[0]!.linkUp).toBe(false);
  });

  it.each([
    ['up', null, true],
    ['up', false, true],
    ['down', true, false],
    ['lowerlayerdown', null, false],
    ['unknown', true, true],
    ['unknown', false, false],
    ['dormant', true, false],
    [null, true, false],
  ] as const)('operstate %s carrier %s → port up %s', (operstate, carrier, want) => {
    expect(portUp(operstate, carrier)).toBe(want);
  });

  it.each([
    ['1', 'ether'],
    ['32', 'infiniband'],
    ['772', '772'],
    [null, null],
    ['', null],
  ])('link type %s → %s', (t, want) => {
    expect(linkTypeName(t)).toBe(want);
  });
});
