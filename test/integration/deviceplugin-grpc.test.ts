import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { grpcCode } from '../../src/deviceplugin/grpc-client.js';
import type { NodeSnapshot } from '../../src/deviceplugin/model.js';
import { StaticSource, startWithKubelet, waitUntil } from '../helpers/deviceplugin-harness.js';
import { pf, vf } from '../helpers/deviceplugin-devices.js';
import { healthById } from '../helpers/fake-kubelet.js';

/**
 * The device plugin's gRPC side against a fake kubelet over real unix sockets, on a NIC whose
 * state the test sets directly (the emulated NIC is driven in deviceplugin-nic.test.ts).
 */

function node(): NodeSnapshot {
  return {
    pfs: [pf({ pci: '0000:03:00.0' }), pf({ pci: '0000:81:00.0', name: 'enp129s0f0np0' })],
    devices: [
      vf({ pci: '0000:03:00.2', vfIndex: 0, representor: 'enp3s0f0np0_0' }),
      vf({ pci: '0000:03:00.3', vfIndex: 1, representor: 'enp3s0f0np0_1' }),
      vf({ pci: '0000:03:00.4', vfIndex: 2, driver: 'vfio-pci', netdev: null, iommuGroup: 44 }),
      vf({
        pci: '0000:81:00.2',
        vfIndex: 0,
        pfPci: '0000:81:00.0',
        pfName: 'enp129s0f0np0',
        numa: 1,
      }),
    ],
  };
}

const RESOURCES = [
  { resourceName: 'dpdk', resourcePrefix: 'example.com', selectors: { drivers: ['vfio-pci'] } },
  { resourceName: 'sriov-net', selectors: { vendors: ['15b3'], drivers: ['mlx5_core'] } },
];

describe.each(['register', 'watcher'] as const)('device plugin over gRPC (%s)', (mode) => {
  it('registers every pool, lists devices with topology, and advertises preferred allocation', async () => {
    const { kubelet, kubeletDir, manager } = await startWithKubelet({
      mode,
      resourceList: RESOURCES,
      source: new StaticSource(node()),
    });
    const reg = await kubelet.waitForRegistration('intel.com/sriov-net');
    await kubelet.waitForRegistration('example.com/dpdk');
    expect(reg.endpoint).toBe(path.join(kubeletDir, 'device-plugins', 'intel.com_sriov-net.sock'));
    if (mode === 'register') {
      expect(reg.options).toEqual({
        pre_start_required: false,
        get_preferred_allocation_available: true,
      });
    } else {
      expect(
        existsSync(path.join(kubeletDir, 'plugins_registry', 'intel.com_sriov-net.sock')),
      ).toBe(true);
    }
    const plugin = kubelet.plugin('intel.com/sriov-net');
    expect(await plugin.options()).toEqual({
      pre_start_required: false,
      get_preferred_allocation_available: true,
    });
    const stream = plugin.listAndWatch();
    const first = await stream.waitFor((d) => d.length > 0, { what: 'the initial list' });
    expect(first.devices).toEqual([
      { ID: '0000:03:00.2', health: 'Healthy', topology: { nodes: [{ ID: 0 }] } },
      { ID: '0000:03:00.3', health: 'Healthy', topology: { nodes: [{ ID: 0 }] } },
      { ID: '0000:81:00.2', health: 'Healthy', topology: { nodes: [{ ID: 1 }] } },
    ]);
    const dpdk = await kubelet
      .plugin('example.com/dpdk')
      .listAndWatch()
      .waitFor((d) => d.length > 0);
    expect(dpdk.devices.map((d) => d.ID)).toEqual(['0000:03:00.4']);
    expect(manager.pools()).toEqual([
      expect.objectContaining({
        resourceName: 'example.com/dpdk',
        registration: mode === 'register' ? 'kubelet-register' : 'plugin-watcher',
        registered: true,
        total: 1,
        allocated: 0,
        unhealthy: 0,
      }),
      expect.objectContaining({ resourceName: 'intel.com/sriov-net', total: 3 }),
    ]);
  });

  it('Allocate: env, _INFO, vfio specs and Multus device-info; unknown IDs are InvalidArgument', async () => {
    const { kubelet, devinfoDir, manager } = await startWithKubelet({
      mode,
      resourceList: RESOURCES,
      source: new StaticSource(node()),
    });
    await kubelet.waitForRegistration('intel.com/sriov-net');
    await kubelet.waitForRegistration('example.com/dpdk');
    const net = kubelet.plugin('intel.com/sriov-net');
    const r = await net.allocate([['0000:03:00.3'], ['0000:03:00.2', '0000:81:00.2']]);
    expect(r.container_responses).toHaveLength(2);
    expect(r.container_responses[1]!.envs).toEqual({
      PCIDEVICE_INTEL_COM_SRIOV_NET: '0000:03:00.2,0000:81:00.2',
      PCIDEVICE_INTEL_COM_SRIOV_NET_INFO: JSON.stringify({
        '0000:03:00.2': { generic: { deviceID: '0000:03:00.2' } },
        '0000:81:00.2': { generic: { deviceID: '0000:81:00.2' } },
      }),
    });
    expect(r.container_responses[0]!.devices).toEqual([]);
    expect(
      JSON.parse(
        readFileSync(path.join(devinfoDir, 'intel.com-sriov-net-0000:03:00.2-device.json'), 'utf8'),
      ),
    ).toEqual({
      type: 'pci',
      version: '1.1.0',
      pci: { 'pci-address': '0000:03:00.2', 'representor-device': 'enp3s0f0np0_0' },
    });
    expect(
      JSON.parse(
        readFileSync(path.join(devinfoDir, 'intel.com-sriov-net-0000:81:00.2-device.json'), 'utf8'),
      ),
    ).toEqual({ type: 'pci', version: '1.1.0', pci: { 'pci-address': '0000:81:00.2' } });

    const dpdk = await kubelet.plugin('example.com/dpdk').allocate([['0000:03:00.4']]);
    expect(dpdk.container_responses[0]!.devices).toEqual([
      { container_path: '/dev/vfio/vfio', host_path: '/dev/vfio/vfio', permissions: 'rw' },
      { container_path: '/dev/vfio/44', host_path: '/dev/vfio/44', permissions: 'rw' },
    ]);
    expect(dpdk.container_responses[0]!.envs.PCIDEVICE_EXAMPLE_COM_DPDK).toBe('0000:03:00.4');

    const before = readdirSync(devinfoDir).sort();
    const err: unknown = await net.allocate([['0000:03:00.2', '0000:03:00.9']]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(grpcCode(err)).toBe(grpc.status.INVALID_ARGUMENT);
    expect(String(err)).toMatch(
      /unknown device ID "0000:03:00\.9" for resource intel\.com\/sriov-net/,
    );
    // A VF of another pool is unknown to this one.
    await expect(net.allocate([['0000:03:00.4']])).rejects.toThrow(
      /unknown device ID "0000:03:00\.4"/,
    );
    expect(readdirSync(devinfoDir).sort()).toEqual(before);

    expect(manager.allocatedDevices()).toEqual([
      expect.objectContaining({ resourceName: 'example.com/dpdk', pci: '0000:03:00.4' }),
      expect.objectContaining({ resourceName: 'intel.com/sriov-net', pci: '0000:03:00.2' }),
      expect.objectContaining({ resourceName: 'intel.com/sriov-net', pci: '0000:03:00.3' }),
      expect.objectContaining({ resourceName: 'intel.com/sriov-net', pci: '0000:81:00.2' }),
    ]);
    expect(await net.preStart(['0000:03:00.2'])).toEqual({});
    await manager.stop();
    expect(readdirSync(devinfoDir)).toEqual([]);
  });

  it('GetPreferredAllocation packs onto the must-include PF, then NUMA, then lowest index', async () => {
    const { kubelet } = await startWithKubelet({
      mode,
      resourceList: RESOURCES,
      source: new StaticSource(node()),
    });
    await kubelet.waitForRegistration('intel.com/sriov-net');
    const r = await kubelet.plugin('intel.com/sriov-net').preferred([
      {
        available_deviceIDs: ['0000:81:00.2', '0000:03:00.3', '0000:03:00.2'],
        must_include_deviceIDs: [],
        allocation_size: 2,
      },
      {
        available_deviceIDs: ['0000:81:00.2', '0000:03:00.3', '0000:03:00.2'],
        must_include_deviceIDs: ['0000:81:00.2'],
        allocation_size: 2,
      },
    ]);
    expect(r.container_responses.map((c) => c.deviceIDs)).toEqual([
      ['0000:03:00.2', '0000:03:00.3'],
      ['0000:81:00.2', '0000:03:00.2'],
    ]);
  });

  it('a VF of a PF losing link turns Unhealthy in the open stream; a removed VF leaves the list', async () => {
    const source = new StaticSource(node());
    const { kubelet, manager } = await startWithKubelet({ mode, resourceList: RESOURCES, source });
    await kubelet.waitForRegistration('intel.com/sriov-net');
    const stream = kubelet.plugin('intel.com/sriov-net').listAndWatch();
    await stream.waitFor((d) => d.length === 3);
    source.snap.pfs[0]!.linkUp = false;
    const down = await stream.waitFor((d) => d.some((x) => x.health === 'Unhealthy'));
    expect(healthById(down.devices)).toEqual({
      '0000:03:00.2': 'Unhealthy',
      '0000:03:00.3': 'Unhealthy',
      '0000:81:00.2': 'Healthy',
    });
    expect(manager.pools()[1]).toMatchObject({ total: 3, unhealthy: 2 });
    source.snap.pfs[0]!.linkUp = true;
    source.snap.devices = source.snap.devices.filter((d) => d.pci !== '0000:03:00.3');
    const after = await stream.waitFor(
      (d) => d.length === 2 && d.every((x) => x.health === 'Healthy'),
      { from: down.index + 1 },
    );
    expect(after.devices.map((d) => d.ID)).toEqual(['0000:03:00.2', '0000:81:00.2']);
  });

  it('re-registers after a kubelet restart, and the new kubelet gets a working plugin', async () => {
    const h = await startWithKubelet({
      mode,
      resourceList: RESOURCES,
      source: new StaticSource(node()),
    });
    await h.kubelet.waitForRegistration('intel.com/sriov-net');
    const stream = h.kubelet.plugin('intel.com/sriov-net').listAndWatch();
    await stream.waitFor((d) => d.length === 3);
    const t0 = Date.now();
    const k2 = h.track(await h.kubelet.restart());
    // The new kubelet wiped device-plugins/; the plugin notices, serves again and registers.
    await waitUntil(
      () => h.manager.pools().every((p) => p.registered && p.restarts >= 1),
      5000,
      'every pool registered again',
    );
    const reg = await k2.waitForRegistration('intel.com/sriov-net', 0, 5000);
    await k2.waitForRegistration('example.com/dpdk', 0, 5000);
    expect(reg.at - t0).toBeLessThan(5000);
    const s2 = k2.plugin('intel.com/sriov-net').listAndWatch();
    expect((await s2.waitFor((d) => d.length === 3)).devices[0]!.health).toBe('Healthy');
  });

  it('serves again when its socket is deleted under it (kubelet wiping device-plugins/)', async () => {
    const h = await startWithKubelet({
      mode,
      resourceList: RESOURCES,
      source: new StaticSource(node()),
    });
    const first = await h.kubelet.waitForRegistration('intel.com/sriov-net');
    rmSync(first.endpoint);
    const again = await h.kubelet.waitForRegistration('intel.com/sriov-net', first.at + 1, 5000);
    expect(existsSync(again.endpoint)).toBe(true);
    const s = h.kubelet.plugin('intel.com/sriov-net').listAndWatch();
    await s.waitFor((d) => d.length === 3);
  });

  it('a refused registration is retried with backoff instead of giving up', async () => {
    const h = await startWithKubelet({
      mode,
      resourceList: [RESOURCES[1]],
      source: new StaticSource(node()),
      refuse: 2,
    });
    const reg = await h.kubelet.waitForRegistration('intel.com/sriov-net', 0, 10_000);
    expect(h.kubelet.refusals).toEqual(['intel.com/sriov-net', 'intel.com/sriov-net']);
    expect(reg.resourceName).toBe('intel.com/sriov-net');
    await waitUntil(() => h.manager.pools()[0]!.registered, 2000, 'registered');
    await h.kubelet
      .plugin('intel.com/sriov-net')
      .listAndWatch()
      .waitFor((d) => d.length === 3);
  });
});

describe('device plugin over gRPC: start-up details', () => {
  it('starting before the kubelet: registers as soon as kubelet.sock appears, not at the next backoff', async () => {
    const h = await startWithKubelet({
      mode: 'register',
      resourceList: [RESOURCES[1]],
      source: new StaticSource(node()),
      manager: { registrationBackoff: { initialMs: 20_000, maxMs: 20_000, jitter: 0 } },
    });
    await h.kubelet.waitForRegistration('intel.com/sriov-net');
    await h.manager.stop();
    await h.kubelet.stop();
    await h.manager.start(); // Register fails: no kubelet.sock; the retry is 20 s away
    await new Promise((r) => setTimeout(r, 300));
    expect(h.manager.pools()[0]!.registered).toBe(false);
    const k2 = h.track(await h.kubelet.restart());
    const reg = await k2.waitForRegistration('intel.com/sriov-net', 0, 5000);
    expect(reg.mode).toBe('register');
  });

  it('a restart that cannot listen yet is retried until it can', async () => {
    const h = await startWithKubelet({
      mode: 'register',
      resourceList: [RESOURCES[1]],
      source: new StaticSource(node()),
    });
    await h.kubelet.waitForRegistration('intel.com/sriov-net');
    await h.kubelet.stop();
    // device-plugins/ replaced by a plain file: nothing can be bound there.
    const dir = path.join(h.kubeletDir, 'device-plugins');
    rmSync(dir, { recursive: true, force: true });
    writeFileSync(dir, 'not a directory');
    await waitUntil(() => h.manager.pools()[0]!.restarts >= 2, 5000, 'failed restarts retried');
    expect(h.manager.pools()[0]!.registered).toBe(false);
    rmSync(dir);
    const k2 = h.track(await h.kubelet.restart());
    await k2.waitForRegistration('intel.com/sriov-net', 0, 5000);
    await k2
      .plugin('intel.com/sriov-net')
      .listAndWatch()
      .waitFor((d) => d.length === 3);
  });

  it('remembers allocations from the kubelet checkpoint: a VF in a pod is not "vanished"', async () => {
    const snap = node();
    snap.devices[1]!.netdev = null; // 0000:03:00.3 is in a pod
    snap.devices[0]!.netdev = null; // 0000:03:00.2 vanished while free
    const source = new StaticSource(snap);
    const h = await startWithKubelet({
      mode: 'register',
      resourceList: [RESOURCES[1]],
      source,
      manager: { kubeletPollMs: 100 },
    });
    // The harness started the manager before writing a checkpoint: restart it with one.
    await h.manager.stop();
    writeFileSync(
      path.join(h.kubeletDir, 'device-plugins', 'kubelet_internal_checkpoint'),
      JSON.stringify({
        Data: {
          PodDeviceEntries: [
            {
              PodUID: 'u1',
              ContainerName: 'c',
              ResourceName: 'intel.com/sriov-net',
              DeviceIDs: { '0': ['0000:03:00.3'] },
              AllocResp: '',
            },
          ],
          RegisteredDevices: {},
        },
        Checksum: 1,
      }),
    );
    await h.manager.start();
    const s = h.kubelet.plugin('intel.com/sriov-net').listAndWatch();
    const l = await s.waitFor((d) => d.length === 3);
    expect(healthById(l.devices)).toEqual({
      '0000:03:00.2': 'Unhealthy',
      '0000:03:00.3': 'Healthy',
      '0000:81:00.2': 'Healthy',
    });
  });
});
