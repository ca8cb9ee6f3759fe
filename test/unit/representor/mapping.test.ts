import { afterEach, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../../src/sys/index.js';
import { findUplink, findVfRepresentor, mapRepresentors } from '../../../src/representor/index.js';
import { capture, devlinkPortTextToJson } from '../../helpers/captures.js';
import {
  buildSysfsTree,
  ctxOf,
  devlinkRunner,
  vfRange,
  type Tree,
} from '../../helpers/sysfs-tree.js';

let t: Tree;
afterEach(async () => t.cleanup());

// wangjun-ip-d-link-pf-switchdev-switchid.txt (switchdev) vs wangjun-ip-d-link-pf-vf-mac.txt (legacy):
// the same PF netdev enp216s0f0 has portname p0 in both, a switchid only in switchdev.
const SW = /switchid (\w+)/.exec(capture('wangjun-ip-d-link-pf-switchdev-switchid.txt'))![1]!;

async function cx5(switchdev: boolean): Promise<Tree> {
  const sw = switchdev ? { physSwitchId: SW } : {};
  return buildSysfsTree({
    pfs: [
      {
        pci: '0000:d8:00.0',
        driver: 'mlx5_core',
        totalVfs: 8,
        netdevs: [
          // Named so that the representors sort before the uplink.
          ...(switchdev
            ? [0, 1, 2, 3].map((i) => ({ name: `eth${i}`, physPortName: `pf0vf${i}`, ...sw }))
            : []),
          { name: 'enp216s0f0', physPortName: 'p0', ...sw },
        ],
        vfs: vfRange('0000:d8:00.2', 4, (i) => ({
          driver: 'mlx5_core',
          netdevs: [`enp216s0f0v${i}`],
        })),
      },
    ],
  });
}

describe('findUplink', () => {
  it('switchdev: the p<N> switch port, not the first entry of net/', async () => {
    t = await cx5(true);
    const r = devlinkRunner({});
    expect(await findUplink(ctxOf(t, r), 'enp216s0f0')).toEqual({
      pf: '0000:d8:00.0',
      uplink: 'enp216s0f0',
      netdev: 'enp216s0f0',
      physSwitchId: SW,
    });
    expect(r.calls).toEqual([]);
  });

  it('legacy: no switch id, so no uplink, but the PF netdev is known', async () => {
    t = await cx5(false);
    expect(await findUplink(ctxOf(t, devlinkRunner({})), '0000:d8:00.0')).toEqual({
      pf: '0000:d8:00.0',
      uplink: null,
      netdev: 'enp216s0f0',
      physSwitchId: null,
    });
  });
});

describe('findVfRepresentor / mapRepresentors', () => {
  it('sysfs fallback when devlink has no port list', async () => {
    t = await cx5(true);
    const ctx = ctxOf(t, devlinkRunner({ ports: 'none' }));
    expect(await findVfRepresentor(ctx, '0000:d8:00.0', 2)).toBe('eth2');
    expect([...(await mapRepresentors(ctx, '0000:d8:00.0'))]).toEqual([
      [0, 'eth0'],
      [1, 'eth1'],
      [2, 'eth2'],
      [3, 'eth3'],
    ]);
  });

  it('devlink wins over phys_port_name when it answers', async () => {
    t = await cx5(true);
    const ports = devlinkPortTextToJson(
      [
        'pci/0000:d8:00.0/65535: type eth netdev enp216s0f0 flavour physical port 0 splittable false',
        'pci/0000:d8:00.0/3: type eth netdev eth1 flavour pcivf controller 0 pfnum 0 vfnum 2 external false splittable false',
        'pci/0000:d8:00.0/4: type eth netdev c1pf0vf3 flavour pcivf controller 1 pfnum 0 vfnum 3 external true splittable false',
      ].join('\n'),
    );
    const ctx = ctxOf(t, devlinkRunner({ ports }));
    expect(await findVfRepresentor(ctx, '0000:d8:00.0', 2)).toBe('eth1');
    // VF 3's only devlink port is another controller's: sysfs decides, with this PF's number.
    expect(await findVfRepresentor(ctx, '0000:d8:00.0', 3)).toBe('eth3');
  });

  it('legacy mode has none; a VF that does not exist is an error', async () => {
    t = await cx5(false);
    const ctx = ctxOf(t, devlinkRunner({ ports: 'none' }));
    expect(await findVfRepresentor(ctx, '0000:d8:00.0', 1)).toBeNull();
    expect((await mapRepresentors(ctx, '0000:d8:00.0')).size).toBe(0);
    await expect(findVfRepresentor(ctx, '0000:d8:00.0', 4)).rejects.toThrow(NotFoundError);
    await expect(findVfRepresentor(ctx, '0000:d8:00.0', 4)).rejects.toThrow(
      /find representor of VF 4 of 0000:d8:00\.0: the PF has no virtfn4/,
    );
  });
});
