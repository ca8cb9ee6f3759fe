import { afterEach, describe, expect, it } from 'vitest';
import { readFunction, readPfSignature } from '../../../src/vf/snapshot.js';
import { buildSysfsTree, type Tree } from '../../helpers/sysfs-tree.js';

/** Each snapshot field comes from its own sysfs attribute or link, verbatim. */

let t: Tree;
afterEach(async () => t.cleanup());

async function tree(): Promise<Tree> {
  return buildSysfsTree({
    pfs: [
      {
        pci: '0000:03:00.0',
        class: '0x020000',
        vendor: '15b3',
        device: '101d',
        driver: 'mlx5_core',
        numa: 1,
        iommuGroup: 17,
        totalVfs: 8,
        numVfs: 1,
        autoprobe: false,
        netdevs: [
          {
            name: 'enp3s0f0np0',
            mac: '0c:42:a1:00:00:01',
            operstate: 'up',
            carrier: '1',
            physPortName: 'p0',
            physSwitchId: 'aabbcc',
            devPort: 0,
          },
        ],
        uverbs: ['uverbs0'],
        ibDevices: ['mlx5_0'],
        vfs: [
          { index: 0, pci: '0000:03:00.2', driver: null, driverOverride: 'vfio-pci', netdevs: [] },
        ],
      },
    ],
  });
}

describe('sysfs snapshot readers', () => {
  it('read a PF: attributes, links, netdevs, rdma entries', async () => {
    t = await tree();
    const pf = await readFunction(t.sysfs, '0000:03:00.0');
    expect(pf).toEqual({
      pci: '0000:03:00.0',
      class: '0x020000',
      vendor: '0x15b3',
      device: '0x101d',
      driver: 'mlx5_core',
      driverOverride: '(null)',
      numaNode: '1',
      sriovTotalVfs: '8',
      sriovNumVfs: '1',
      sriovDriversAutoprobe: '0',
      physfn: null,
      virtfns: [{ link: 'virtfn0', pci: '0000:03:00.2' }],
      iommuGroup: '17',
      netdevs: [
        {
          name: 'enp3s0f0np0',
          address: '0c:42:a1:00:00:01',
          operstate: 'up',
          carrier: '1',
          physPortName: 'p0',
          physSwitchId: 'aabbcc',
          devPort: '0',
        },
      ],
      uverbs: ['uverbs0'],
      ibDevices: ['mlx5_0'],
    });
    expect(await readPfSignature(t.sysfs, '0000:03:00.0')).toEqual({
      class: '0x020000',
      sriovTotalVfs: '8',
    });
  });

  it('read a VF without a driver: absent attributes and links are null', async () => {
    t = await tree();
    const vf = await readFunction(t.sysfs, '0000:03:00.2');
    expect(vf).toMatchObject({
      pci: '0000:03:00.2',
      driver: null,
      driverOverride: 'vfio-pci',
      physfn: '0000:03:00.0',
      sriovTotalVfs: null,
      virtfns: [],
      netdevs: [],
    });
    expect(await readPfSignature(t.sysfs, '0000:03:00.2')).toMatchObject({ sriovTotalVfs: null });
  });
});
