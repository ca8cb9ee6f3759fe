import {
  optional,
  optionalInteger,
  optionalString,
  stringMap,
  stringValue,
  type Row,
} from '../ovs/ovsdb/index.js';
import { VSWITCH_DB, type OvsdbTransport } from '../ovs/vswitch.js';
import { errorMessage } from '../sys/index.js';

/**
 * What OVSDB says about DPDK on this node: the `type=dpdk` Interface rows (a PMD-owned
 * device, found by `options:dpdk-devargs`, never by a kernel netdev) and the Open_vSwitch
 * row's DPDK keys. Read only: nothing here changes ovs-vswitchd's configuration.
 */

export interface DpdkInterface {
  name: string;
  /** `options:dpdk-devargs`, null when unset. */
  devargs: string | null;
  /** `link_state` (`up`/`down`), null while ovs-vswitchd has not opened the port. */
  linkState: string | null;
  /** ovs-vswitchd's `error` ("Error attaching device '…' to DPDK"). */
  error: string | null;
  ofport: number | null;
  mtu: number | null;
  mtuRequest: number | null;
}

export interface VswitchdDpdk {
  /** `other_config:dpdk-init` as written (`true`, `try`, `false`), null when unset. */
  dpdkInit: string | null;
  /** `dpdk_initialized`; null when the schema has no such column (OVS before 2.10). */
  initialized: boolean | null;
  /** `other_config:hw-offload`: only "true" is true; null when unset. */
  hwOffload: boolean | null;
  /** Bridge name → `datapath_type` ("" is the kernel datapath, `netdev` the userspace one). */
  datapathTypes: Record<string, string>;
}

function decodeDpdkInterface(r: Row): DpdkInterface {
  const options = stringMap(r.options);
  return {
    name: stringValue(r.name),
    devargs: options['dpdk-devargs'] ?? null,
    linkState: optionalString(r.link_state),
    error: optionalString(r.error),
    ofport: optionalInteger(r.ofport),
    mtu: optionalInteger(r.mtu),
    mtuRequest: optionalInteger(r.mtu_request),
  };
}

/** Every `type=dpdk` Interface, by name. */
export async function readDpdkInterfaces(client: OvsdbTransport): Promise<DpdkInterface[]> {
  const res = await client.transact(VSWITCH_DB, [
    {
      op: 'select',
      table: 'Interface',
      where: [['type', '==', 'dpdk']],
      columns: ['name', 'options', 'link_state', 'error', 'ofport', 'mtu', 'mtu_request'],
    },
  ]);
  return (res[0]?.rows ?? []).map(decodeDpdkInterface).sort((a, b) => (a.name < b.name ? -1 : 1));
}

async function selectOpenVswitch(client: OvsdbTransport, columns: string[]): Promise<Row | null> {
  const res = await client.transact(VSWITCH_DB, [
    { op: 'select', table: 'Open_vSwitch', where: [], columns },
  ]);
  return res[0]?.rows?.[0] ?? null;
}

/**
 * The Open_vSwitch row's DPDK state and every bridge's datapath_type. A database whose
 * schema predates `dpdk_initialized` answers the other keys with `initialized: null`.
 */
export async function readVswitchdDpdk(client: OvsdbTransport): Promise<VswitchdDpdk> {
  let row: Row | null;
  let initialized: boolean | null = null;
  try {
    row = await selectOpenVswitch(client, ['other_config', 'dpdk_initialized']);
    const v = optional(row?.dpdk_initialized);
    initialized = typeof v === 'boolean' ? v : null;
  } catch (err) {
    if (!/dpdk_initialized|unknown column/i.test(errorMessage(err))) throw err;
    row = await selectOpenVswitch(client, ['other_config']);
  }
  const oc = stringMap(row?.other_config);
  const bridges = await client.transact(VSWITCH_DB, [
    { op: 'select', table: 'Bridge', where: [], columns: ['name', 'datapath_type'] },
  ]);
  const datapathTypes: Record<string, string> = {};
  for (const b of bridges[0]?.rows ?? []) {
    datapathTypes[stringValue(b.name)] = stringValue(b.datapath_type);
  }
  const hw = oc['hw-offload'];
  return {
    dpdkInit: oc['dpdk-init'] ?? null,
    initialized,
    hwOffload: hw === undefined ? null : hw === 'true',
    datapathTypes,
  };
}
