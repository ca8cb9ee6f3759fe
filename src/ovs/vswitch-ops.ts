import { OvsdbError } from './errors.js';
import {
  guard,
  map,
  namedUuid,
  set,
  uuid,
  UuidNamer,
  type Operation,
  type Row,
  type Value,
} from './ovsdb/index.js';
import type { validateAttach } from './vswitch-validate.js';
import { OWNER_KEY } from './vswitch-types.js';

/**
 * The transactions of the vswitch API, as pure functions of their input (the "plan"; the
 * Vswitch sends them and interprets the outcome). Each starts with its preconditions as a
 * guard, so a transaction whose premise is false fails at once and changes nothing.
 */

/** The leading guard (a wait with timeout 0) did not hold: the precondition is false. */
export function isGuardFailure(err: unknown): boolean {
  return err instanceof OvsdbError && err.index === 0 && err.error === 'timed out';
}

export function attachOps(req: ReturnType<typeof validateAttach>): Operation[] {
  const names = new UuidNamer();
  const iface = names.name(`iface_${req.name}`);
  const port = names.name(`port_${req.name}`);
  const ifaceRow: Row = {
    name: req.name,
    type: req.type,
    options: map(req.options),
    external_ids: map(req.interfaceExternalIds),
  };
  if (req.ofportRequest !== undefined) ifaceRow.ofport_request = req.ofportRequest;
  if (req.mtuRequest !== undefined) ifaceRow.mtu_request = req.mtuRequest;
  const portRow: Row = {
    name: req.name,
    interfaces: namedUuid(iface),
    external_ids: map(req.portExternalIds),
  };
  if (req.tag !== undefined) portRow.tag = req.tag;
  return [
    guard('Bridge', [['name', '==', req.bridge]], [{ name: req.bridge }], ['name']),
    { op: 'insert', table: 'Interface', row: ifaceRow, 'uuid-name': iface },
    { op: 'insert', table: 'Port', row: portRow, 'uuid-name': port },
    {
      op: 'mutate',
      table: 'Bridge',
      where: [['name', '==', req.bridge]],
      mutations: [['ports', 'insert', set([namedUuid(port)])]],
    },
  ];
}

export function createBridgeOps(name: string, datapathType: string | undefined): Operation[] {
  const names = new UuidNamer();
  const iface = names.name(`iface_${name}`);
  const port = names.name(`port_${name}`);
  const br = names.name(`br_${name}`);
  return [
    // Exactly one Open_vSwitch row, or the new bridge would be unreferenced and vanish.
    guard('Open_vSwitch', [], [{}], []),
    { op: 'insert', table: 'Interface', row: { name, type: 'internal' }, 'uuid-name': iface },
    { op: 'insert', table: 'Port', row: { name, interfaces: namedUuid(iface) }, 'uuid-name': port },
    {
      op: 'insert',
      table: 'Bridge',
      row: {
        name,
        ports: namedUuid(port),
        ...(datapathType !== undefined ? { datapath_type: datapathType } : {}),
      },
      'uuid-name': br,
    },
    {
      op: 'mutate',
      table: 'Open_vSwitch',
      where: [],
      mutations: [['bridges', 'insert', set([namedUuid(br)])]],
    },
  ];
}

/**
 * Take a port we own off its bridge (ovsdb then garbage-collects Port and Interface rows).
 * `qos`: the port's qos column as read and the operations deleting our QoS/Queue rows
 * (root tables, never garbage-collected), guarded so a QoS set meanwhile is not orphaned.
 */
export function detachOps(
  portUuid: string,
  owner: string,
  qos?: { value: Value; ops: Operation[] },
): Operation[] {
  const ref = uuid(portUuid);
  return [
    // Still there and still ours at commit time, or nothing happens.
    guard(
      'Port',
      [
        ['_uuid', '==', ref],
        ['external_ids', 'includes', map({ [OWNER_KEY]: owner })],
      ],
      [qos ? { _uuid: ref, qos: qos.value } : { _uuid: ref }],
      qos ? ['_uuid', 'qos'] : ['_uuid'],
    ),
    ...(qos?.ops ?? []),
    {
      op: 'mutate',
      table: 'Bridge',
      where: [['ports', 'includes', set([ref])]],
      mutations: [['ports', 'delete', set([ref])]],
    },
  ];
}

/** Set (string) or remove (null) the given other_config keys of the Open_vSwitch row. */
export function otherConfigOps(changed: readonly [string, string | null][]): Operation[] {
  const put: Record<string, string> = {};
  for (const [k, v] of changed) if (v !== null) put[k] = v;
  return [
    {
      op: 'mutate',
      table: 'Open_vSwitch',
      where: [],
      // A map "insert" keeps existing keys, so the changed keys are deleted first.
      mutations: [
        ['other_config', 'delete', set(changed.map(([k]) => k))],
        ['other_config', 'insert', map(put)],
      ],
    },
  ];
}

/**
 * Reads what decides whether a pod port may be a DPDK port: the bridge's datapath_type
 * (a type=dpdk Interface only works on a netdev bridge) and Open_vSwitch.dpdk_initialized
 * (ovs-vswitchd sets it once EAL is up; a vswitchd built without DPDK never does).
 */
export function dpdkStateOps(bridge: string): Operation[] {
  return [
    { op: 'select', table: 'Open_vSwitch', where: [], columns: ['dpdk_initialized'] },
    { op: 'select', table: 'Bridge', where: [['name', '==', bridge]], columns: ['datapath_type'] },
  ];
}
