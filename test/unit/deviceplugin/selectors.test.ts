import { describe, expect, it } from 'vitest';
import { parseResourceList } from '../../../src/deviceplugin/config.js';
import { assignPools } from '../../../src/deviceplugin/pools.js';
import {
  EMPTY_SELECTOR,
  matchesSelector,
  parseIndexedName,
  type Selector,
} from '../../../src/deviceplugin/selectors.js';
import { vf } from '../../helpers/deviceplugin-devices.js';

describe('pfNames / rootDevices entries', () => {
  it.each([
    ['ens1f0', { name: 'ens1f0', indexes: null }],
    ['ens1f0#3', { name: 'ens1f0', indexes: [{ from: 3, to: 3 }] }],
    [
      'ens1f0#0,2-5',
      {
        name: 'ens1f0',
        indexes: [
          { from: 0, to: 0 },
          { from: 2, to: 5 },
        ],
      },
    ],
    ['0000:03:00.0#1-1', { name: '0000:03:00.0', indexes: [{ from: 1, to: 1 }] }],
    ['ens1f0#', 'has no VF index after "#"'],
    ['#2', 'has no name before "#"'],
    ['ens1f0#5-2', 'has a reversed range "5-2"'],
    ['ens1f0#1-2-3', 'has a bad VF index "1-2-3" (use N or N-M)'],
    ['ens1f0#-1', 'has a bad VF index "-1" (use N or N-M)'],
  ])('%s', (raw, want) => {
    expect(parseIndexedName(raw)).toEqual(want);
  });
});

const sel = (over: Partial<Selector>): Selector => ({ ...EMPTY_SELECTOR, ...over });

describe('selector matching', () => {
  const dev = vf({ pci: '0000:03:00.4', vfIndex: 2, pfName: 'enp3s0f0np0', rdma: ['uverbs2'] });
  it.each<[string, Partial<Selector>, boolean]>([
    ['empty selector takes everything', {}, true],
    ['vendor', { vendors: ['15b3'] }, true],
    ['other vendor', { vendors: ['8086'] }, false],
    ['device and driver', { devices: ['1018'], drivers: ['mlx5_core'] }, true],
    ['driver not bound to', { drivers: ['vfio-pci'] }, false],
    ['pci address', { pciAddresses: ['0000:03:00.4'] }, true],
    ['pf name, case-insensitive', { pfNames: [{ name: 'ENP3S0F0NP0', indexes: null }] }, true],
    [
      'pf name with a range that covers the VF',
      { pfNames: [{ name: 'enp3s0f0np0', indexes: [{ from: 2, to: 5 }] }] },
      true,
    ],
    [
      'pf name with ranges that miss it',
      {
        pfNames: [
          { name: 'enp3s0f0np0', indexes: [{ from: 0, to: 1 }] },
          { name: 'enp3s0f0np0', indexes: [{ from: 3, to: 7 }] },
        ],
      },
      false,
    ],
    ['another PF', { pfNames: [{ name: 'enp3s0f1np1', indexes: null }] }, false],
    ['root device', { rootDevices: [{ name: '0000:03:00.0', indexes: null }] }, true],
    [
      'root device, index not covered',
      { rootDevices: [{ name: '0000:03:00.0', indexes: [{ from: 0, to: 1 }] }] },
      false,
    ],
    ['link type', { linkTypes: ['ether'] }, true],
    ['infiniband link type', { linkTypes: ['infiniband'] }, false],
    ['isRdma with an RDMA device', { isRdma: true }, true],
    ['vendors AND drivers', { vendors: ['15b3'], drivers: ['iavf'] }, false],
  ])('%s', (_n, s, want) => {
    expect(matchesSelector(dev, sel(s))).toBe(want);
  });

  it('isRdma refuses a VF without infiniband_verbs; needVhostNet never filters', () => {
    const plain = vf({ pci: '0000:03:00.2' });
    expect(matchesSelector(plain, sel({ isRdma: true }))).toBe(false);
    expect(matchesSelector(plain, sel({ needVhostNet: true }))).toBe(true);
  });

  it('a VF without a PF name never matches a pfNames selector', () => {
    expect(
      matchesSelector(
        vf({ pci: '0000:03:00.2', pfName: null }),
        sel({ pfNames: [{ name: 'x', indexes: null }] }),
      ),
    ).toBe(false);
  });
});

describe('pool assignment', () => {
  const devices = [
    vf({ pci: '0000:03:00.2', vfIndex: 0 }),
    vf({ pci: '0000:03:00.3', vfIndex: 1, driver: 'vfio-pci', netdev: null }),
    vf({ pci: '0000:03:00.4', vfIndex: 2 }),
    vf({ pci: '0000:03:00.5', vfIndex: 3, vendor: '8086', device: '1889', driver: 'iavf' }),
  ];

  it('gives each device to the first matching pool only, and records the selector that took it', () => {
    const { resources } = parseResourceList([
      { resourceName: 'dpdk', selectors: { drivers: ['vfio-pci'] } },
      {
        resourceName: 'mlx',
        selectors: [{ pfNames: ['enp3s0f0np0#2'], needVhostNet: true }, { vendors: ['15b3'] }],
      },
      { resourceName: 'all', selectors: {} },
    ]);
    const pools = assignPools(devices, resources);
    const ids = (n: string) => pools.get(n)!.map((m) => `${m.device.pci}@${m.selectorIndex}`);
    expect(ids('intel.com/dpdk')).toEqual(['0000:03:00.3@0']);
    expect(ids('intel.com/mlx')).toEqual(['0000:03:00.2@1', '0000:03:00.4@0']);
    expect(ids('intel.com/all')).toEqual(['0000:03:00.5@0']);
  });

  it('keeps a configured pool with no devices (it fills when VFs appear)', () => {
    const { resources } = parseResourceList([
      { resourceName: 'none', selectors: { vendors: ['1f67'] } },
    ]);
    expect(assignPools(devices, resources).get('intel.com/none')).toEqual([]);
  });
});
