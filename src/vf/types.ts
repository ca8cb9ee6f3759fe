import type { CommandRunner, Logger, SysFs } from '../sys/index.js';

/**
 * The NIC as the kernel shows it: SR-IOV physical functions (PFs), their virtual functions
 * (VFs), and — in switchdev mode — the uplink and one representor netdev per VF.
 */

/** What every NIC-layer function that touches the host takes (sysfs root + command runner). */
export interface NicContext {
  sysfs: SysFs;
  runner: CommandRunner;
  logger?: Logger;
}

/** devlink's eswitch mode; `switchdev_inactive` (kernel 6.17+) is switchdev with traffic held. */
export type EswitchMode = 'legacy' | 'switchdev';

/**
 * A PF's eswitch as the inventory reports it: devlink's mode, or `dpdk` for a PF bound to a
 * user-space driver (vfio-pci, uio): the kernel no longer drives the function, so it has no
 * netdev and devlink no answer; its eswitch belongs to the DPDK PMD that opened it, and its
 * VFs' representors are DPDK ports (`dpdk-devargs=<PF>,representor=…`), not netdevs.
 */
export type PfEswitchMode = EswitchMode | 'dpdk';

/** One netdev under a PCI function's `net/` directory. */
export interface NetdevInfo {
  name: string;
  /** `address`. */
  mac: string | null;
  operstate: string | null;
  /** `carrier`; null when the kernel refuses the read (EINVAL: interface down). */
  carrier: boolean | null;
  /** `phys_port_name`; null when the driver has none (EOPNOTSUPP) or it is empty. */
  physPortName: string | null;
  /** `phys_switch_id`; null when the netdev is not a switch port (legacy mode, plain NIC). */
  physSwitchId: string | null;
  /** `dev_port`: which port of a multi-port function (mlx4) this netdev is. */
  devPort: number | null;
}

export interface VfInfo {
  /** N of the PF's `virtfnN` link. */
  vfIndex: number;
  pci: string;
  /** 4 lowercase hex digits, no `0x`. */
  vendor: string | null;
  device: string | null;
  /** Basename of the `driver` link; null when unbound. */
  driver: string | null;
  /** `driver_override`; null when unset (`(null)`). */
  driverOverride: string | null;
  /** `numa_node`; null for -1 (no affinity) or when absent. */
  numa: number | null;
  /** Names under the VF's own `net/` (empty when unbound, bound to vfio-pci, or in a pod). */
  netdevs: string[];
  netdev: string | null;
  mac: string | null;
  operstate: string | null;
  carrier: boolean | null;
  iommuGroup: number | null;
  /** RDMA char devices (`infiniband_verbs/uverbsN`), numeric order. */
  rdma: string[];
  /** RDMA device names (`infiniband/<ibdev>`). */
  rdmaDevices: string[];
  /** The VF's representor netdev (switchdev only). */
  representor: string | null;
}

export interface PfInfo {
  pci: string;
  vendor: string | null;
  device: string | null;
  driver: string | null;
  numa: number | null;
  iommuGroup: number | null;
  /** Every netdev under the PF's `net/` (in switchdev: uplink and representors), by name. */
  netdevs: NetdevInfo[];
  /** §3.4: the uplink in switchdev, else the PF's own netdev. */
  netdev: string | null;
  /** The uplink representor (phys_switch_id set, phys_port_name `p<N>`); null in legacy. */
  uplink: string | null;
  /** phys_port_name / phys_switch_id of `netdev`. */
  physPortName: string | null;
  physSwitchId: string | null;
  /** Link state of `netdev`. */
  mac: string | null;
  operstate: string | null;
  carrier: boolean | null;
  totalVfs: number;
  numVfs: number;
  /** `sriov_drivers_autoprobe`: new VFs get their driver bound at creation. */
  autoprobe: boolean;
  eswitchMode: PfEswitchMode;
  /** devlink said `switchdev_inactive`: representors exist but the eswitch passes no traffic. */
  eswitchInactive: boolean;
  vfs: VfInfo[];
}

export interface Inventory {
  /** Sorted by PCI address. */
  pfs: PfInfo[];
}
