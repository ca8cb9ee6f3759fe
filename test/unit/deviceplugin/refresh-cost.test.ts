import { mkdir, rm, symlink } from 'node:fs/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SysfsSnapshotSource } from '../../../src/deviceplugin/inventory.js';
import { buildSysfsTree, devlinkRunner, vfRange, type Tree } from '../../helpers/sysfs-tree.js';

/**
 * The 250 ms live refresh must stay cheap while nothing happens: per-VF state is read again
 * only when the host's netdev list (class/net) changed or a caller asks for it; rebinds are
 * seen in the drivers' own directory listings (a rebind to vfio-pci changes nothing else the
 * cheap read lists).
 */

const PF = '0000:03:00.0';
const trees: Tree[] = [];
afterEach(async () => {
  for (const t of trees.splice(0)) await t.cleanup();
});

async function node(): Promise<{ t: Tree; vfs: string[]; src: SysfsSnapshotSource }> {
  const vfSpecs = vfRange('0000:03:00.2', 3, (i) => ({
    vendor: '15b3',
    device: '1018',
    driver: 'mlx5_core',
    netdevs: [`eth0v${i}`],
  }));
  const t = await buildSysfsTree({
    pfs: [
      {
        pci: PF,
        vendor: '15b3',
        device: '1017',
        driver: 'mlx5_core',
        totalVfs: 8,
        netdevs: [{ name: 'eth0', operstate: 'up', carrier: '1' }],
        vfs: vfSpecs,
      },
    ],
  });
  trees.push(t);
  const src = new SysfsSnapshotSource({
    sysfs: t.sysfs,
    runner: devlinkRunner({ eswitch: { [PF]: 'switchdev' } }),
  });
  return { t, vfs: vfSpecs.map((v) => v.pci), src };
}

/** Paths read through the source's sysfs since the spies were set. */
function spyReads(t: Tree): () => string[] {
  const spies = [
    vi.spyOn(t.sysfs, 'listOrEmpty'),
    vi.spyOn(t.sysfs, 'linkName'),
    vi.spyOn(t.sysfs, 'linkNameSync'),
    vi.spyOn(t.sysfs, 'readOrNull'),
    vi.spyOn(t.sysfs, 'listOrEmptySync'),
    vi.spyOn(t.sysfs, 'readOrNullSync'),
  ];
  return () => spies.flatMap((s) => s.mock.calls.map((c) => String(c[0])));
}

describe('SysfsSnapshotSource.refresh cost', () => {
  it('nothing changed: per-PF reads, class/net and the driver links only, the same devices array', async () => {
    const { t, vfs, src } = await node();
    const snap = await src.full();
    expect(snap.devices.map((d) => d.netdev)).toEqual(['eth0v0', 'eth0v1', 'eth0v2']);
    const reads = spyReads(t);
    const next = await src.refresh(snap);
    expect(next?.devices).toBe(snap.devices);
    expect(reads().filter((p) => vfs.some((v) => p.includes(v)))).toEqual([]);
    expect(reads()).toContain('class/net');
    // Rebinds are seen in the drivers' own listings: one per driver in use, not one per VF.
    expect(reads()).toContain('bus/pci/drivers/mlx5_core');
  });

  it('a VF netdev leaving the host is seen by the next refresh (class/net changed)', async () => {
    const { t, vfs, src } = await node();
    const snap = await src.full();
    const quiet = await src.refresh(snap);
    // What the kernel shows once eth0v1 moved into a pod's network namespace.
    await rm(t.sys(`bus/pci/devices/${vfs[1]}/net/eth0v1`), { recursive: true });
    await rm(t.sys('class/net/eth0v1'));
    const reads = spyReads(t);
    const next = await src.refresh(quiet!);
    expect(next?.devices.map((d) => d.netdev)).toEqual(['eth0v0', null, 'eth0v2']);
    expect(reads().filter((p) => vfs.some((v) => p === `bus/pci/devices/${v}/net`))).toHaveLength(
      3,
    );
    // Read once: the one after it is quiet again.
    const after = await src.refresh(next!);
    expect(after?.devices).toBe(next?.devices);
  });

  it('perVf re-reads every VF even when class/net reads the same', async () => {
    const { t, vfs, src } = await node();
    const snap = await src.full();
    const reads = spyReads(t);
    const next = await src.refresh(snap, { perVf: true });
    expect(next?.devices).not.toBe(snap.devices);
    expect(next?.devices).toEqual(snap.devices);
    for (const v of vfs) expect(reads()).toContain(`bus/pci/devices/${v}/net`);
  });

  it('a VF rebound to vfio-pci asks for a full read on the next refresh, nothing else changed', async () => {
    const { t, vfs, src } = await node();
    const snap = await src.full();
    expect(await src.refresh(snap)).not.toBeNull();
    // What the kernel shows after unbind + bind: the link moves between the drivers' listings.
    await rm(t.sys(`bus/pci/drivers/mlx5_core/${vfs[0]}`));
    await mkdir(t.sys('bus/pci/drivers/vfio-pci'), { recursive: true });
    await symlink(t.sys(`bus/pci/devices/${vfs[0]}`), t.sys(`bus/pci/drivers/vfio-pci/${vfs[0]}`));
    expect(await src.refresh(snap)).toBeNull();
  });

  it('a VF unbound (in no listing, its own link gone) asks for a full read', async () => {
    const { t, vfs, src } = await node();
    const snap = await src.full();
    await rm(t.sys(`bus/pci/drivers/mlx5_core/${vfs[1]}`));
    await rm(t.sys(`bus/pci/devices/${vfs[1]}/driver`));
    expect(await src.refresh(snap)).toBeNull();
  });

  it('a tree without the drivers directories (a captured sysfs) is not a rebind', async () => {
    const { t, src } = await node();
    const snap = await src.full();
    await rm(t.sys('bus/pci/drivers/mlx5_core'), { recursive: true });
    expect(await src.refresh(snap)).not.toBeNull();
  });
});
