import type { ResourceConfig } from './config.js';
import type { PoolDevice } from './model.js';
import type { PoolMember } from './pools.js';
import type { ContainerAllocateResponse, DeviceSpec } from './proto.js';
import type { Selector } from './selectors.js';

/**
 * What Allocate hands the kubelet for one container, as sriov-network-device-plugin does
 * (so sriov-cni, Multus and DPDK apps that read these keep working), with env names that are
 * always valid: every character outside [A-Z0-9_] becomes `_`.
 */

/** `PCIDEVICE_<PREFIX>_<NAME>`, uppercase, only [A-Z0-9_]. */
export function envName(prefix: string, name: string): string {
  return `PCIDEVICE_${prefix}_${name}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

export const VFIO_CONTAINER_DEV = '/dev/vfio/vfio';
export const RDMA_CM = '/dev/infiniband/rdma_cm';
export const VHOST_NET = '/dev/vhost-net';
export const TUN = '/dev/net/tun';

function rw(p: string, hostPath = p): DeviceSpec {
  return { container_path: p, host_path: hostPath, permissions: 'rw' };
}

/** Host and container paths of a VF's vfio group (no-IOMMU groups are `noiommu-N` on the host). */
export function vfioGroupPaths(dev: PoolDevice): { host: string; container: string } | null {
  if (dev.driver !== 'vfio-pci' || dev.iommuGroup === null) return null;
  const container = `/dev/vfio/${dev.iommuGroup}`;
  return {
    host: dev.vfioNoIommu ? `/dev/vfio/noiommu-${dev.iommuGroup}` : container,
    container,
  };
}

function deviceSpecs(dev: PoolDevice, sel: Selector | undefined): DeviceSpec[] {
  const specs: DeviceSpec[] = [];
  const group = vfioGroupPaths(dev);
  if (group) specs.push(rw(VFIO_CONTAINER_DEV), rw(group.container, group.host));
  if (sel?.isRdma && dev.rdma.length > 0) {
    for (const u of dev.rdma) specs.push(rw(`/dev/infiniband/${u}`));
    specs.push(rw(RDMA_CM));
  }
  if (sel?.needVhostNet) specs.push(rw(VHOST_NET), rw(TUN));
  return specs;
}

type InfoEntry = Record<string, Record<string, string>>;

/** One device's entry of the `_INFO` env (the keys of upstream's info providers). */
export function deviceInfo(dev: PoolDevice, sel: Selector | undefined): InfoEntry {
  const info: InfoEntry = { generic: { deviceID: dev.pci } };
  const group = vfioGroupPaths(dev);
  if (group) info.vfio = { mount: VFIO_CONTAINER_DEV, 'dev-mount': group.container };
  if (sel?.isRdma && dev.rdma.length > 0) {
    const rdma: Record<string, string> = {};
    const uverbs = dev.rdma[0];
    if (uverbs !== undefined) rdma.uverbs = `/dev/infiniband/${uverbs}`;
    rdma.rdma_cm = RDMA_CM;
    if (dev.rdmaDevice !== null) rdma.rdma_dev = dev.rdmaDevice;
    info.rdma = rdma;
  }
  if (sel?.needVhostNet) info.vhost = { 'net-mount': VHOST_NET, 'tun-mount': TUN };
  return info;
}

export function containerResponse(
  resource: Pick<ResourceConfig, 'resourcePrefix' | 'resourceName' | 'selectors'>,
  members: readonly PoolMember[],
): ContainerAllocateResponse {
  const key = envName(resource.resourcePrefix, resource.resourceName);
  const info: Record<string, InfoEntry> = {};
  const devices: DeviceSpec[] = [];
  const seen = new Set<string>();
  for (const { device, selectorIndex } of members) {
    const sel = resource.selectors[selectorIndex];
    info[device.pci] = deviceInfo(device, sel);
    // /dev/vfio/vfio and rdma_cm are shared by every device: one spec each per container.
    for (const spec of deviceSpecs(device, sel)) {
      if (seen.has(spec.host_path)) continue;
      seen.add(spec.host_path);
      devices.push(spec);
    }
  }
  return {
    envs: {
      [key]: members.map((m) => m.device.pci).join(','),
      [`${key}_INFO`]: JSON.stringify(info),
    },
    mounts: [],
    devices,
    annotations: {},
    cdi_devices: [],
  };
}

/** Multus device-info file name: `<prefix>-<name>-<bdf>-device.json` (resource `/` → `-`). */
export function devinfoFileName(resource: Pick<ResourceConfig, 'fullName'>, pci: string): string {
  return `${resource.fullName.replace(/\//g, '-')}-${pci}-device.json`;
}

/** The device-info-spec 1.1.0 document Multus passes to the CNI (as upstream writes it). */
export function devinfoDocument(dev: PoolDevice, sel: Selector | undefined): string {
  const pci: Record<string, string> = { 'pci-address': dev.pci };
  if (dev.representor !== null) pci['representor-device'] = dev.representor;
  if (sel?.isRdma && dev.rdmaDevice !== null) pci['rdma-device'] = dev.rdmaDevice;
  return JSON.stringify({ type: 'pci', version: '1.1.0', pci });
}
