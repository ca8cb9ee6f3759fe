import {
  optionalInteger,
  optionalString,
  stringMap,
  stringValue,
  uuidSet,
  uuidValue,
  type Condition,
  type Operation,
  type OperationResult,
  type Row,
} from './ovsdb/index.js';
import { VSWITCH_DB, type InterfaceInfo, type OvsdbTransport } from './vswitch-types.js';

export interface BridgeRow {
  uuid: string;
  name: string;
  ports: string[];
}
export interface PortRow {
  uuid: string;
  name: string;
  interfaces: string[];
  externalIds: Record<string, string>;
}
export interface InterfaceRow {
  uuid: string;
  name: string;
  type: string;
  ofport: number | null;
  error: string | null;
  externalIds: Record<string, string>;
}

/**
 * Bridges, ports and interfaces read in ONE transaction (a consistent snapshot: a port
 * cannot move between the reads), with only the columns we use (never `statistics`).
 */
export class Topology {
  readonly bridgeOfPort = new Map<string, BridgeRow>();
  readonly portOfInterface = new Map<string, PortRow>();

  constructor(
    readonly bridges: BridgeRow[],
    readonly ports: PortRow[],
    readonly interfaces: InterfaceRow[],
  ) {
    for (const b of bridges) for (const p of b.ports) this.bridgeOfPort.set(p, b);
    for (const p of ports) for (const i of p.interfaces) this.portOfInterface.set(i, p);
  }

  port(name: string): PortRow | undefined {
    return this.ports.find((p) => p.name === name);
  }

  iface(name: string): InterfaceRow | undefined {
    return this.interfaces.find((i) => i.name === name);
  }

  /** The interface a single-interface port stands for: the one of the same name, else its first. */
  mainInterface(port: PortRow): InterfaceRow | undefined {
    const mine = this.interfaces.filter((i) => port.interfaces.includes(i.uuid));
    return mine.find((i) => i.name === port.name) ?? mine[0];
  }

  info(i: InterfaceRow): InterfaceInfo {
    const port = this.portOfInterface.get(i.uuid);
    const bridge = port ? this.bridgeOfPort.get(port.uuid) : undefined;
    return {
      name: i.name,
      uuid: i.uuid,
      type: i.type,
      ofport: i.ofport,
      externalIds: i.externalIds,
      error: i.error,
      port: port?.name ?? null,
      bridge: bridge?.name ?? null,
    };
  }
}

export function decodeInterface(r: Row): InterfaceRow {
  return {
    uuid: uuidValue(r._uuid),
    name: stringValue(r.name),
    type: stringValue(r.type),
    ofport: optionalInteger(r.ofport),
    error: optionalString(r.error),
    externalIds: stringMap(r.external_ids),
  };
}

export function decodePort(r: Row): PortRow {
  return {
    uuid: uuidValue(r._uuid),
    name: stringValue(r.name),
    interfaces: uuidSet(r.interfaces),
    externalIds: stringMap(r.external_ids),
  };
}

function decodeBridge(r: Row): BridgeRow {
  return { uuid: uuidValue(r._uuid), name: stringValue(r.name), ports: uuidSet(r.ports) };
}

export const INTERFACE_COLUMNS = ['_uuid', 'name', 'type', 'ofport', 'error', 'external_ids'];
export const PORT_COLUMNS = ['_uuid', 'name', 'interfaces', 'external_ids'];

export function rowsOf(res: OperationResult[], i: number): Row[] {
  return res[i]?.rows ?? [];
}

/**
 * Reads a snapshot; `where` narrows the ports/interfaces read (`iface: null` reads none).
 * Bridges are always all read: there are few, and a port's bridge is found through them.
 */
export async function readTopology(
  client: OvsdbTransport,
  where: { port?: Condition[]; iface?: Condition[] | null } = {},
): Promise<Topology> {
  const ops: Operation[] = [
    { op: 'select', table: 'Bridge', where: [], columns: ['_uuid', 'name', 'ports'] },
    { op: 'select', table: 'Port', where: where.port ?? [], columns: PORT_COLUMNS },
  ];
  if (where.iface !== null) {
    ops.push({
      op: 'select',
      table: 'Interface',
      where: where.iface ?? [],
      columns: INTERFACE_COLUMNS,
    });
  }
  const res = await client.transact(VSWITCH_DB, ops);
  return new Topology(
    rowsOf(res, 0).map(decodeBridge),
    rowsOf(res, 1).map(decodePort),
    rowsOf(res, 2).map(decodeInterface),
  );
}

/** The single Open_vSwitch row's map column (the table has exactly one row once initialised). */
export async function readOpenVswitchMap(
  client: OvsdbTransport,
  column: 'other_config' | 'external_ids',
): Promise<Record<string, string>> {
  const res = await client.transact(VSWITCH_DB, [
    { op: 'select', table: 'Open_vSwitch', where: [], columns: [column] },
  ]);
  const row = rowsOf(res, 0)[0];
  return row ? stringMap(row[column]) : {};
}
