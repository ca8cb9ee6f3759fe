import { describe, expect, it } from 'vitest';
import {
  containerResponse,
  deviceInfo,
  devinfoDocument,
  devinfoFileName,
  envName,
} from '../../../src/deviceplugin/allocate.js';
import { EMPTY_SELECTOR } from '../../../src/deviceplugin/selectors.js';
import { vf } from '../../helpers/deviceplugin-devices.js';

describe('Allocate env names', () => {
  it.each([
    ['intel.com', 'intel_sriov_netdevice', 'PCIDEVICE_INTEL_COM_INTEL_SRIOV_NETDEVICE'],
    ['yunsilicon.com', 'xsc_sriov', 'PCIDEVICE_YUNSILICON_COM_XSC_SRIOV'],
    ['intel.com', 'sriov-netdevice', 'PCIDEVICE_INTEL_COM_SRIOV_NETDEVICE'],
    ['my-vendor.example.io', 'offload-vf', 'PCIDEVICE_MY_VENDOR_EXAMPLE_IO_OFFLOAD_VF'],
    ['nvidia.com', 'Mlnx-RDMA_1', 'PCIDEVICE_NVIDIA_COM_MLNX_RDMA_1'],
    ['a.b.c', 'x/y', 'PCIDEVICE_A_B_C_X_Y'],
  ])('%s / %s → %s', (prefix, name, want) => {
    expect(envName(prefix, name)).toBe(want);
    expect(envName(prefix, name)).toMatch(/^[A-Z0-9_]+$/);
  });
});

const resource = (over: Partial<typeof EMPTY_SELECTOR>[] = [{}]) => ({
  resourcePrefix: 'example.com',
  resourceName: 'sriov-vf',
  fullName: 'example.com/sriov-vf',
  selectors: over.map((o) => ({ ...EMPTY_SELECTOR, ...o })),
});

describe('Allocate responses', () => {
  it('netdevice VFs: the PCI list, _INFO with generic only, no device specs', () => {
    const r = containerResponse(resource(), [
      { device: vf({ pci: '0000:03:00.3' }), selectorIndex: 0 },
      { device: vf({ pci: '0000:03:00.2' }), selectorIndex: 0 },
    ]);
    expect(r.envs).toEqual({
      PCIDEVICE_EXAMPLE_COM_SRIOV_VF: '0000:03:00.3,0000:03:00.2',
      PCIDEVICE_EXAMPLE_COM_SRIOV_VF_INFO: JSON.stringify({
        '0000:03:00.3': { generic: { deviceID: '0000:03:00.3' } },
        '0000:03:00.2': { generic: { deviceID: '0000:03:00.2' } },
      }),
    });
    expect(r.devices).toEqual([]);
    expect(r.mounts).toEqual([]);
  });

  it('vfio-pci VFs: /dev/vfio/vfio once, one group node each, vfio _INFO', () => {
    const a = vf({ pci: '0000:03:00.2', driver: 'vfio-pci', netdev: null, iommuGroup: 41 });
    const b = vf({ pci: '0000:03:00.3', driver: 'vfio-pci', netdev: null, iommuGroup: 42 });
    const r = containerResponse(resource(), [
      { device: a, selectorIndex: 0 },
      { device: b, selectorIndex: 0 },
    ]);
    expect(r.devices).toEqual([
      { container_path: '/dev/vfio/vfio', host_path: '/dev/vfio/vfio', permissions: 'rw' },
      { container_path: '/dev/vfio/41', host_path: '/dev/vfio/41', permissions: 'rw' },
      { container_path: '/dev/vfio/42', host_path: '/dev/vfio/42', permissions: 'rw' },
    ]);
    expect(JSON.parse(r.envs.PCIDEVICE_EXAMPLE_COM_SRIOV_VF_INFO!)).toEqual({
      '0000:03:00.2': {
        generic: { deviceID: '0000:03:00.2' },
        vfio: { mount: '/dev/vfio/vfio', 'dev-mount': '/dev/vfio/41' },
      },
      '0000:03:00.3': {
        generic: { deviceID: '0000:03:00.3' },
        vfio: { mount: '/dev/vfio/vfio', 'dev-mount': '/dev/vfio/42' },
      },
    });
  });

  it('a no-IOMMU vfio group is noiommu-N on the host and N in the container', () => {
    const d = vf({
      pci: '0000:03:00.2',
      driver: 'vfio-pci',
      netdev: null,
      iommuGroup: 7,
      vfioNoIommu: true,
    });
    const r = containerResponse(resource(), [{ device: d, selectorIndex: 0 }]);
    expect(r.devices[1]).toEqual({
      container_path: '/dev/vfio/7',
      host_path: '/dev/vfio/noiommu-7',
      permissions: 'rw',
    });
  });

  it('isRdma adds uverbs and rdma_cm (rdma_cm once), needVhostNet adds vhost-net and tun', () => {
    const a = vf({ pci: '0000:03:00.2', rdma: ['uverbs2'], rdmaDevice: 'mlx5_2' });
    const b = vf({ pci: '0000:03:00.3', rdma: ['uverbs3'], rdmaDevice: 'mlx5_3' });
    const r = containerResponse(resource([{ isRdma: true, needVhostNet: true }]), [
      { device: a, selectorIndex: 0 },
      { device: b, selectorIndex: 0 },
    ]);
    expect(r.devices.map((d) => d.host_path)).toEqual([
      '/dev/infiniband/uverbs2',
      '/dev/infiniband/rdma_cm',
      '/dev/vhost-net',
      '/dev/net/tun',
      '/dev/infiniband/uverbs3',
    ]);
    expect(deviceInfo(a, { ...EMPTY_SELECTOR, isRdma: true, needVhostNet: true })).toEqual({
      generic: { deviceID: '0000:03:00.2' },
      rdma: {
        uverbs: '/dev/infiniband/uverbs2',
        rdma_cm: '/dev/infiniband/rdma_cm',
        rdma_dev: 'mlx5_2',
      },
      vhost: { 'net-mount': '/dev/vhost-net', 'tun-mount': '/dev/net/tun' },
    });
  });

  it('uses the options of the selector that took each device', () => {
    const r = containerResponse(resource([{}, { needVhostNet: true }]), [
      { device: vf({ pci: '0000:03:00.2' }), selectorIndex: 0 },
      { device: vf({ pci: '0000:03:00.3' }), selectorIndex: 1 },
    ]);
    expect(r.devices.map((d) => d.host_path)).toEqual(['/dev/vhost-net', '/dev/net/tun']);
    const info = JSON.parse(r.envs.PCIDEVICE_EXAMPLE_COM_SRIOV_VF_INFO!) as Record<string, object>;
    expect(Object.keys(info['0000:03:00.2']!)).toEqual(['generic']);
    expect(Object.keys(info['0000:03:00.3']!)).toEqual(['generic', 'vhost']);
  });
});

describe('Multus device-info files', () => {
  it('name: <prefix>-<name>-<bdf>-device.json', () => {
    expect(devinfoFileName({ fullName: 'intel.com/sriov_net' }, '0000:03:00.2')).toBe(
      'intel.com-sriov_net-0000:03:00.2-device.json',
    );
  });

  it.each([
    [
      'with a representor',
      vf({ pci: '0000:03:00.2', representor: 'enp3s0f0np0_0' }),
      {
        type: 'pci',
        version: '1.1.0',
        pci: { 'pci-address': '0000:03:00.2', 'representor-device': 'enp3s0f0np0_0' },
      },
    ],
    [
      'legacy mode: no representor key',
      vf({ pci: '0000:03:00.2' }),
      { type: 'pci', version: '1.1.0', pci: { 'pci-address': '0000:03:00.2' } },
    ],
  ])('%s', (_n, dev, want) => {
    expect(JSON.parse(devinfoDocument(dev, EMPTY_SELECTOR))).toEqual(want);
  });
});
