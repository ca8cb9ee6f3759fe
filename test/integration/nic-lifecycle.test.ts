import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EmulatedNic } from '../../src/sandbox/index.js';
import { ExecaRunner, Ip, SysFs } from '../../src/sys/index.js';
import {
  applyVfKnobs,
  bindDriver,
  readPf,
  readVfKnobs,
  setNumVfs,
  unbindDriver,
  type NicContext,
} from '../../src/vf/index.js';
import { newNode } from '../helpers/sandbox.js';

/** VF lifecycle against the emulated kernel: sriov_numvfs, driver binding, VF knobs. */

const PF = '0000:03:00.0';

function ctxOf(nic: EmulatedNic): NicContext {
  return { sysfs: new SysFs(nic.sysfsRoot), runner: new ExecaRunner({ PATH: nic.path }) };
}

describe('VF lifecycle on the emulated NIC', () => {
  it('setNumVfs: 0→4 waits for every VF and netdev; 4→6 writes 0 first (no EBUSY); →0 removes', async () => {
    const { nic } = await newNode({
      nic: { identity: 'e810', vfsPerPf: 0, totalVfs: 8, eswitchMode: 'legacy' },
    });
    const ctx = ctxOf(nic);
    await setNumVfs(ctx, PF, 4, { timeoutMs: 20_000 });
    // No sync(): setNumVfs itself waited until the VFs and their netdevs were there.
    let pf = await readPf(ctx, PF);
    expect(pf.numVfs).toBe(4);
    expect(pf.vfs.map((v) => [v.vfIndex, v.driver, v.netdev !== null])).toEqual([
      [0, 'iavf', true],
      [1, 'iavf', true],
      [2, 'iavf', true],
      [3, 'iavf', true],
    ]);
    await setNumVfs(ctx, PF, 6, { timeoutMs: 20_000 });
    pf = await readPf(ctx, PF);
    expect(pf.vfs).toHaveLength(6);
    expect(pf.vfs.every((v) => v.netdev !== null)).toBe(true);
    await setNumVfs(ctx, PF, 0, { timeoutMs: 20_000 });
    expect((await readPf(ctx, PF)).vfs).toEqual([]);
    expect(
      (await nic.calls('sysfs')).map((c) => `${c.argv.join(' ')}${c.code ? ' refused' : ''}`),
    ).toEqual([
      `write ${PF}/sriov_numvfs 4`,
      `write ${PF}/sriov_numvfs 0`,
      `write ${PF}/sriov_numvfs 6`,
      `write ${PF}/sriov_numvfs 0`,
    ]);
  });

  it('setNumVfs with drivers_autoprobe off does not wait for drivers that never come', async () => {
    const { nic } = await newNode({
      nic: { identity: 'mlx5', vfsPerPf: 0, eswitchMode: 'legacy', autoprobe: false },
    });
    const ctx = ctxOf(nic);
    // Waiting for drivers would take the 5 s probe grace and time out here, naming them.
    await setNumVfs(ctx, PF, 2, { timeoutMs: 4_500 });
    expect((await readPf(ctx, PF)).vfs.map((v) => [v.driver, v.netdev])).toEqual([
      [null, null],
      [null, null],
    ]);
  });

  it('unbind, bind to vfio-pci (driver_override), and back to the network driver', async () => {
    const { nic } = await newNode({
      nic: { identity: 'mlx5', vfsPerPf: 2, eswitchMode: 'legacy' },
    });
    const ctx = ctxOf(nic);
    const vf = '0000:03:00.3';
    const override = () =>
      readFile(path.join(nic.sysfsRoot, 'sys/bus/pci/devices', vf, 'driver_override'), 'utf8');
    expect(await unbindDriver(ctx, vf)).toBe('mlx5_core');
    expect(await unbindDriver(ctx, vf)).toBeNull();
    await bindDriver(ctx, vf, 'vfio-pci');
    expect((await override()).trim()).toBe('vfio-pci');
    let v = (await readPf(ctx, PF)).vfs[1]!;
    expect([v.driver, v.driverOverride, v.netdev]).toEqual(['vfio-pci', 'vfio-pci', null]);
    // Straight from vfio-pci to mlx5_core: unbinds first, clears the override, waits for the netdev.
    await bindDriver(ctx, vf, 'mlx5_core');
    v = (await readPf(ctx, PF)).vfs[1]!;
    expect([v.driver, v.driverOverride, v.netdev]).toEqual([
      'mlx5_core',
      null,
      nic.uplink(0) + 'v1',
    ]);
    expect((await nic.calls('sysfs')).map((c) => c.argv.join(' '))).toEqual([
      `write drivers/mlx5_core/unbind ${vf}`,
      `write drivers/vfio-pci/bind ${vf}`,
      `write drivers/vfio-pci/unbind ${vf}`,
      `write drivers/mlx5_core/bind ${vf}`,
    ]);
  });

  it('legacy VF knobs: one ip call per set, read back from vfinfo_list, restored from the snapshot', async () => {
    const { sb, nic } = await newNode({
      nic: { identity: 'mlx5', vfsPerPf: 2, eswitchMode: 'legacy' },
    });
    const ip = new Ip(new ExecaRunner({ PATH: nic.path }));
    const opts = { netns: { name: sb.hostNetns } };
    const up = nic.uplink(0);
    const before = await readVfKnobs(ip, up, 1, opts);
    expect(before).toMatchObject({
      mac: '00:00:00:00:00:00',
      vlan: 0,
      spoofchk: 'on',
      trust: 'off',
      linkState: 'auto',
    });
    const change = await applyVfKnobs(
      ip,
      up,
      1,
      {
        mac: '0a:11:22:33:44:55',
        vlan: 100,
        qos: 3,
        proto: '802.1ad',
        spoofchk: 'off',
        trust: 'on',
        linkState: 'disable',
        minTxRate: 10,
        maxTxRate: 500,
      },
      opts,
    );
    expect(await readVfKnobs(ip, up, 1, opts)).toEqual({ ...change.applied });
    await applyVfKnobs(ip, up, 1, change.previous, opts);
    expect(await readVfKnobs(ip, up, 1, opts)).toEqual(before);
    const sets = (await nic.calls('ip')).map((c) => [c.argv.slice(2).join(' '), c.code]);
    expect(sets).toEqual([
      [
        `link set dev ${up} vf 1 mac 0a:11:22:33:44:55 vlan 100 qos 3 proto 802.1ad spoofchk off trust on state disable min_tx_rate 10 max_tx_rate 500`,
        0,
      ],
      [
        `link set dev ${up} vf 1 mac 00:00:00:00:00:00 vlan 0 spoofchk on trust off state auto min_tx_rate 0 max_tx_rate 0`,
        0,
      ],
    ]);
    // Out of range: refused here, the stand-in never called.
    await expect(applyVfKnobs(ip, up, 1, { vlan: 4096 }, opts)).rejects.toThrow(/vlan: 4096/);
    expect(await nic.calls('ip')).toHaveLength(2);
  });
});
