import type { Logger } from '../sys/index.js';
import type {
  CallOptions,
  Monitor,
  MonitorRequest,
  Operation,
  OperationResult,
} from './ovsdb/index.js';
import type { DatabaseSchema } from './ovsdb/index.js';

/** The external_ids key that marks Port and Interface rows as ours (DESIGN §3.7). */
export const OWNER_KEY = 'ovs-offload-owner';

export const VSWITCH_DB = 'Open_vSwitch';

/** What Vswitch needs from an OVSDB client (OvsdbClient; a fake in unit tests). */
export interface OvsdbTransport {
  transact(db: string, ops: readonly Operation[], opts?: CallOptions): Promise<OperationResult[]>;
  getSchema(db: string, opts?: CallOptions): Promise<DatabaseSchema>;
  monitorCond(req: MonitorRequest, opts?: CallOptions): Promise<Monitor>;
}

export interface VswitchOptions {
  /** Our owner marker value: the node name. */
  owner: string;
  logger?: Logger;
}

export interface AttachPortRequest {
  bridge: string;
  name: string;
  /** Interface type: "" (a system netdev such as a representor, the default), "internal", "dpdk", … */
  type?: string;
  /** Interface options, e.g. {"dpdk-devargs": "0000:03:00.0,representor=vf2"}. */
  options?: Record<string, string>;
  /** Interface external_ids (iface-id, pod_name, pod_namespace, pod_netns, ip, vendor…). */
  interfaceExternalIds: Record<string, string>;
  portExternalIds?: Record<string, string>;
  ofportRequest?: number;
  /** Access VLAN of the port. */
  tag?: number;
  mtuRequest?: number;
}

export interface AttachResult {
  portUuid: string;
  interfaceUuid: string;
  /** false: a port of that name was already on that bridge and nothing was changed. */
  created: boolean;
}

export interface InterfaceInfo {
  name: string;
  uuid: string;
  type: string;
  /** null while ovs-vswitchd has not assigned one; -1 when it failed to open the device. */
  ofport: number | null;
  externalIds: Record<string, string>;
  /** ovs-vswitchd's `error` column ("could not open network device …"), or null. */
  error: string | null;
  /** The port and bridge it belongs to (null if not on a bridge). */
  port: string | null;
  bridge: string | null;
}

export interface OwnedPort {
  name: string;
  /** The main Interface's type ("" a kernel netdev, "dpdk", "internal", …). */
  type: string;
  bridge: string | null;
  portUuid: string;
  interfaceUuid: string | null;
  ofport: number | null;
  /** The Interface's external_ids. */
  externalIds: Record<string, string>;
  error: string | null;
}

export interface StalePort extends OwnedPort {
  reason: 'device-gone' | 'netns-gone';
  detail: string;
}

export interface OffloadConfig {
  /** other_config:hw-offload as OVS reads it (only "true" is true); null when unset. */
  hwOffload: boolean | null;
  tcPolicy: string | null;
}

export interface DpdkState {
  /** Open_vSwitch.dpdk_initialized: EAL is up in ovs-vswitchd. */
  dpdkInitialized: boolean;
  /** The bridge's datapath_type ("" is the kernel datapath, "netdev" userspace); null: no bridge. */
  datapathType: string | null;
}
