import { describe, expect, it } from 'vitest';
import { deviceHealth, toApiDevices, poolStates } from '../../../src/deviceplugin/health.js';
import { pf, vf } from '../../helpers/deviceplugin-devices.js';

describe('device health', () => {
  const up = pf({ pci: '0000:03:00.0' });
  it.each([
    ['free VF on a PF with link', vf({ pci: '0000:03:00.2' }), up, {}, 'Healthy'],
    [
      'free VF whose own carrier is down (representor down) is judged by its PF only',
      vf({ pci: '0000:03:00.2', netdev: 'enp3s0f0v0' }),
      up,
      {},
      'Healthy',
    ],
    [
      'PF uplink down',
      vf({ pci: '0000:03:00.2' }),
      pf({ pci: '0000:03:00.0', linkUp: false }),
      {},
      'Unhealthy',
    ],
    ['PF gone', vf({ pci: '0000:03:00.2' }), undefined, {}, 'Unhealthy'],
    [
      'requireSwitchdev and the PF went legacy',
      vf({ pci: '0000:03:00.2' }),
      pf({ pci: '0000:03:00.0', eswitchMode: 'legacy' }),
      { requireSwitchdev: true },
      'Unhealthy',
    ],
    [
      'legacy PF without requireSwitchdev',
      vf({ pci: '0000:03:00.2' }),
      pf({ pci: '0000:03:00.0', eswitchMode: 'legacy' }),
      {},
      'Healthy',
    ],
    [
      'free netdevice VF whose netdev vanished',
      vf({ pci: '0000:03:00.2', netdev: null }),
      up,
      {},
      'Unhealthy',
    ],
    [
      'allocated VF without a host netdev (it is in its pod)',
      vf({ pci: '0000:03:00.2', netdev: null }),
      up,
      { allocated: true },
      'Healthy',
    ],
    [
      'vfio-pci VF never has a netdev',
      vf({ pci: '0000:03:00.2', netdev: null, driver: 'vfio-pci' }),
      up,
      {},
      'Healthy',
    ],
    [
      'unbound VF is not judged by its netdev',
      vf({ pci: '0000:03:00.2', netdev: null, driver: null }),
      up,
      {},
      'Healthy',
    ],
  ] as const)('%s → %s', (_n, dev, pfState, opts, want) => {
    const v = deviceHealth(dev, pfState, { requireSwitchdev: false, allocated: false, ...opts });
    expect(v.health).toBe(want);
    expect(v.reason === null).toBe(want === 'Healthy');
  });

  it('lists devices with NUMA topology unless excluded or unknown', () => {
    const members = [
      { device: vf({ pci: '0000:03:00.2', numa: 1 }), selectorIndex: 0 },
      { device: vf({ pci: '0000:03:00.3', numa: null }), selectorIndex: 0 },
    ];
    const states = poolStates(
      members,
      new Map([['0000:03:00.0', pf({ pci: '0000:03:00.0' })]]),
      { requireSwitchdev: false },
      new Set(),
    );
    expect(toApiDevices(states, { excludeTopology: false })).toEqual([
      { ID: '0000:03:00.2', health: 'Healthy', topology: { nodes: [{ ID: 1 }] } },
      { ID: '0000:03:00.3', health: 'Healthy', topology: null },
    ]);
    expect(toApiDevices(states, { excludeTopology: true })[0]!.topology).toBeNull();
  });
});
