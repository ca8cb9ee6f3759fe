import { afterEach, describe, expect, it } from 'vitest';
import {
  dpdkUplinkState,
  uplinkPortOf,
  withDpdkUplink,
  type DpdkPortLink,
} from '../../../src/deviceplugin/dpdk-uplink.js';
import { deviceHealth } from '../../../src/deviceplugin/health.js';
import { SysfsSnapshotSource } from '../../../src/deviceplugin/inventory.js';
import { pf, vf } from '../../helpers/deviceplugin-devices.js';
import { buildSysfsTree, devlinkRunner, vfRange, type Tree } from '../../helpers/sysfs-tree.js';

/**
 * Health of VFs whose PF DPDK owns (vfio-pci: no netdev, no carrier): the physical port is
 * the OVS DPDK port whose dpdk-devargs is the PF, and its link is that Interface's link_state.
 */

const PF = '0000:b3:00.0';
const ports = (linkState: string | null, extra: DpdkPortLink[] = []): DpdkPortLink[] => [
  { name: 'pf0vf0rep', devargs: `${PF},representor=[0]`, linkState: 'up' },
  { name: 'dpdk-p0', devargs: PF, linkState },
  { name: 'other', devargs: '0000:b3:00.1', linkState: 'up' },
  ...extra,
];

describe('uplinkPortOf / dpdkUplinkState', () => {
  it('the port that opens the PF itself, never a representor or another PF', () => {
    expect(uplinkPortOf(PF, ports('up'))?.name).toBe('dpdk-p0');
    expect(uplinkPortOf('0000:b3:00.2', ports('up'))).toBeNull();
    expect(dpdkUplinkState(PF, ports('down'))).toEqual({
      known: true,
      port: 'dpdk-p0',
      linkState: 'down',
    });
    expect(dpdkUplinkState(PF, null)).toEqual({ known: false, port: null, linkState: null });
  });

  it('withDpdkUplink leaves kernel PFs alone', () => {
    const kernel = pf({ pci: PF });
    expect(withDpdkUplink(kernel, ports('down'))).toBe(kernel);
  });
});

describe('deviceHealth of a DPDK-owned PF', () => {
  const dpdkPf = (p: DpdkPortLink[] | null) =>
    withDpdkUplink(
      pf({ pci: PF, name: null, uplink: null, linkUp: false, eswitchMode: 'dpdk' }),
      p,
    );
  const dev = vf({ pci: '0000:b3:00.2', pfPci: PF, driver: 'vfio-pci', netdev: null });
  const opts = { requireSwitchdev: false, allocated: false };

  it('link_state up: Healthy; down or never opened: Unhealthy with the port named', () => {
    expect(deviceHealth(dev, dpdkPf(ports('up')), opts)).toEqual({
      health: 'Healthy',
      reason: null,
    });
    expect(deviceHealth(dev, dpdkPf(ports('down')), opts)).toEqual({
      health: 'Unhealthy',
      reason: `PF ${PF} DPDK port dpdk-p0 link_state is down`,
    });
    expect(deviceHealth(dev, dpdkPf(ports(null)), opts).reason).toBe(
      `PF ${PF} DPDK port dpdk-p0 link_state is unknown`,
    );
  });

  it('no DPDK port opens the PF: Unhealthy; OVSDB not available: not judged', () => {
    expect(deviceHealth(dev, dpdkPf([]), opts).reason).toMatch(
      /is DPDK-owned and no OVS DPDK port opens it \(options:dpdk-devargs=0000:b3:00\.0\)/,
    );
    expect(deviceHealth(dev, dpdkPf(null), opts).health).toBe('Healthy');
  });

  it('requireSwitchdev accepts a DPDK-owned PF (its PMD makes the representors)', () => {
    expect(deviceHealth(dev, dpdkPf(ports('up')), { ...opts, requireSwitchdev: true }).health).toBe(
      'Healthy',
    );
  });
});

describe('SysfsSnapshotSource with a DPDK link source', () => {
  const trees: Tree[] = [];
  afterEach(async () => {
    while (trees.length > 0) await trees.pop()!.cleanup();
  });

  it('full read and 250 ms refreshes follow link_state; a failed OVSDB read keeps the last view', async () => {
    const t = await buildSysfsTree({
      pfs: [
        {
          pci: PF,
          vendor: '1f67',
          device: '1111',
          driver: 'vfio-pci',
          totalVfs: 4,
          netdevs: [],
          vfs: vfRange('0000:b3:00.2', 2, () => ({
            vendor: '1f67',
            device: '1112',
            driver: 'vfio-pci',
          })),
        },
      ],
    });
    trees.push(t);
    let state: string | null = 'up';
    let fail = false;
    const src = new SysfsSnapshotSource(
      { sysfs: t.sysfs, runner: devlinkRunner({}) },
      {
        ports: async () => {
          if (fail) throw new Error('OVSDB gone');
          return ports(state);
        },
      },
    );
    const snap = await src.full();
    expect(snap.pfs).toEqual([
      expect.objectContaining({
        pci: PF,
        eswitchMode: 'dpdk',
        uplink: 'dpdk-p0',
        linkUp: true,
        dpdkUplink: { known: true, port: 'dpdk-p0', linkState: 'up' },
      }),
    ]);
    expect(snap.devices.map((d) => d.vfIndex)).toEqual([0, 1]);
    state = 'down';
    const next = await src.refresh(snap);
    expect(next?.pfs[0]).toMatchObject({ linkUp: false, dpdkUplink: { linkState: 'down' } });
    fail = true;
    const kept = await src.refresh(next!);
    expect(kept?.pfs[0]).toEqual(next?.pfs[0]);
  });
});
