/**
 * The device plugin's own view of the node: just what selectors, health and Allocate need.
 * Built from the NIC inventory by one adapter (inventory.ts), so everything downstream of it
 * is pure and testable with plain objects.
 */

/** One SR-IOV VF that a pool may hand out. */
export interface PoolDevice {
  /** PCI address (DDDD:BB:DD.F, lowercase): the device ID the kubelet sees. */
  pci: string;
  /** 4 lowercase hex digits, no 0x. */
  vendor: string;
  device: string;
  /** Bound driver (`mlx5_core`, `iavf`, `vfio-pci`), null when unbound. */
  driver: string | null;
  pfPci: string;
  /** The PF's netdev name (its uplink in switchdev), as `pfNames` selectors match it. */
  pfName: string | null;
  vfIndex: number;
  /** NUMA node, null when the platform has none (-1). */
  numa: number | null;
  /** `ether`, `infiniband`, … from the netdev type (the VF's, else its PF's). */
  linkType: string | null;
  /** RDMA char devices of the VF (`uverbs3`), from `infiniband_verbs/`. */
  rdma: string[];
  /** RDMA device name (`mlx5_3`), when known. */
  rdmaDevice: string | null;
  iommuGroup: number | null;
  /** The group is a no-IOMMU vfio group (`/dev/vfio/noiommu-N` on the host). */
  vfioNoIommu: boolean;
  /** The VF's netdev in the host netns; null while in a pod, bound to vfio, or unbound. */
  netdev: string | null;
  /** Its representor netdev in switchdev mode. */
  representor: string | null;
}

/** What health needs to know about each PF. */
export interface PfState {
  pci: string;
  /** Netdev name used for pfNames (uplink in switchdev, else the PF netdev). */
  name: string | null;
  /** The netdev whose link state is the physical port's: uplink in switchdev, else the PF netdev. */
  uplink: string | null;
  /** The physical port has link (operstate up, or unknown with carrier). */
  linkUp: boolean;
  eswitchMode: 'switchdev' | 'legacy' | 'dpdk' | null;
  numVfs: number;
  /**
   * Only for a PF on a user-space driver (`eswitchMode` dpdk): it has no netdev and so no
   * carrier; its physical port is the OVS DPDK port whose `options:dpdk-devargs` is the PF's
   * PCI address, and the link is that Interface's `link_state`. `known` false: nothing could
   * ask OVSDB (the plugin runs without the agent), so the link is not judged.
   */
  dpdkUplink?: DpdkUplinkState;
}

export interface DpdkUplinkState {
  known: boolean;
  /** The DPDK port's name; null when no port opens the PF. */
  port: string | null;
  /** Its `link_state` (`up`, `down`), null before ovs-vswitchd opened it. */
  linkState: string | null;
}

export interface NodeSnapshot {
  pfs: PfState[];
  devices: PoolDevice[];
}

/** Drivers that take a VF away from the kernel network stack: such a VF never has a netdev. */
export const USERSPACE_DRIVERS: ReadonlySet<string> = new Set([
  'vfio-pci',
  'uio_pci_generic',
  'igb_uio',
]);

/** Whether a free VF with this driver must have a netdev in the host netns. */
export function expectsNetdev(driver: string | null): boolean {
  return driver !== null && !USERSPACE_DRIVERS.has(driver);
}
