import { afterEach, describe, expect, it } from 'vitest';
import { parseInventory, pfEswitch, readInventory, readPf } from '../../../src/vf/index.js';
import {
  buildSysfsTree,
  ctxOf,
  devlinkRunner,
  vfRange,
  type Tree,
  type TreeSpec,
} from '../../helpers/sysfs-tree.js';

/**
 * A PF bound to vfio-pci (DPDK's PMD owns it): no netdev under net/, no devlink device. The
 * inventory reads it from sysfs alone and calls its eswitch `dpdk`, never `legacy`.
 */

const trees: Tree[] = [];
afterEach(async () => {
  while (trees.length > 0) await trees.pop()!.cleanup();
});

// A metaScale-like PF on vfio-pci with 3 VFs (iavf-like kernel VF driver on two, one on vfio).
const SPEC: TreeSpec = {
  pfs: [
    {
      pci: '0000:b3:00.0',
      vendor: '1f67',
      device: '1111',
      driver: 'vfio-pci',
      numa: 0,
      totalVfs: 8,
      netdevs: [],
      vfs: vfRange('0000:b3:00.2', 3, (i) => ({
        vendor: '1f67',
        device: '1112',
        driver: i === 2 ? 'vfio-pci' : 'xsc_eth',
        netdevs: i === 2 ? [] : [`ens3v${i}`],
      })),
    },
    {
      pci: '0000:b3:00.1',
      vendor: '1f67',
      device: '1111',
      driver: 'xsc_pci',
      totalVfs: 8,
      netdevs: [{ name: 'ens3f1', operstate: 'up', carrier: '1' }],
      vfs: [],
    },
  ],
};

describe('a PF on a user-space driver', () => {
  it('is eswitch "dpdk" with VFs indexed from virtfn links, and devlink is not asked for it', async () => {
    const t = await buildSysfsTree(SPEC);
    trees.push(t);
    const runner = devlinkRunner({ eswitch: { '0000:b3:00.1': 'none' } });
    const inv = await readInventory(ctxOf(t, runner));
    const [dpdk, kernel] = inv.pfs;
    expect(dpdk).toMatchObject({
      pci: '0000:b3:00.0',
      driver: 'vfio-pci',
      netdev: null,
      uplink: null,
      eswitchMode: 'dpdk',
      numVfs: 3,
      totalVfs: 8,
    });
    expect(dpdk!.vfs.map((v) => [v.vfIndex, v.pci, v.driver, v.netdev, v.representor])).toEqual([
      [0, '0000:b3:00.2', 'xsc_eth', 'ens3v0', null],
      [1, '0000:b3:00.3', 'xsc_eth', 'ens3v1', null],
      [2, '0000:b3:00.4', 'vfio-pci', null, null],
    ]);
    // the kernel-driven sibling without a devlink answer stays legacy (§3.4)
    expect(kernel).toMatchObject({ pci: '0000:b3:00.1', eswitchMode: 'legacy' });
    const asked = runner.calls.map((c) => c.join(' '));
    expect(asked).not.toContain('devlink -j dev eswitch show pci/0000:b3:00.0');
    expect(asked).toContain('devlink -j dev eswitch show pci/0000:b3:00.1');
  });

  it('readPf resolves it by PCI address (it has no netdev to name it by)', async () => {
    const t = await buildSysfsTree(SPEC);
    trees.push(t);
    const pf = await readPf(ctxOf(t, devlinkRunner({})), '0000:b3:00.0');
    expect(pf.eswitchMode).toBe('dpdk');
    expect(pf.vfs).toHaveLength(3);
  });
});

describe('pfEswitch', () => {
  it('devlink wins when it answers; no answer: dpdk for user-space drivers, else legacy', () => {
    const sw = { stdout: JSON.stringify({ dev: { 'pci/0000:03:00.0': { mode: 'switchdev' } } }) };
    expect(pfEswitch('0000:03:00.0', 'vfio-pci', sw)).toEqual({
      mode: 'switchdev',
      inactive: false,
    });
    for (const d of ['vfio-pci', 'uio_pci_generic', 'igb_uio']) {
      expect(pfEswitch('0000:03:00.0', d, { none: 'x' }).mode).toBe('dpdk');
    }
    expect(pfEswitch('0000:03:00.0', 'ice', { none: 'x' }).mode).toBe('legacy');
    expect(pfEswitch('0000:03:00.0', null, { none: 'x' }).mode).toBe('legacy');
  });

  it('parseInventory applies it to a snapshot', () => {
    const fn = {
      pci: '0000:81:00.0',
      class: '0x020000',
      vendor: '0x8086',
      device: '0x1592',
      driver: 'vfio-pci',
      driverOverride: null,
      numaNode: '-1',
      sriovTotalVfs: '4',
      sriovNumVfs: '0',
      sriovDriversAutoprobe: '1',
      physfn: null,
      virtfns: [],
      iommuGroup: '7',
      netdevs: [],
      uverbs: [],
      ibDevices: [],
    };
    const inv = parseInventory({
      pfs: [{ fn, vfs: [], eswitch: { none: 'bound to vfio-pci' } }],
      ports: { none: 'not asked' },
    });
    expect(inv.pfs[0]).toMatchObject({ eswitchMode: 'dpdk', netdev: null, numVfs: 0 });
  });
});
