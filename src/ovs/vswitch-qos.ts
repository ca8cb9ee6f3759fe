import { InvalidInputError, NotFoundError, OvsOffloadError } from '../sys/index.js';
import { PortNotOwnedError } from './errors.js';
import {
  emptySet,
  guard,
  integerValue,
  map,
  namedUuid,
  optional,
  setElements,
  stringMap,
  stringValue,
  uuid,
  uuidValue,
  UuidNamer,
  isUuid,
  type Atom,
  type Operation,
  type OvsdbMap,
  type Row,
  type Value,
} from './ovsdb/index.js';
import { rowsOf } from './vswitch-topology.js';
import { OWNER_KEY, VSWITCH_DB, type OvsdbTransport } from './vswitch-types.js';

/**
 * Rate limits on a pod port, the way Kube-OVN sets them (pkg/ovs/ovs-vsctl_linux.go
 * SetInterfaceBandwidth), as OVSDB transactions:
 *
 * - what enters OVS from the port (the pod's egress) is policed by the Interface's
 *   `ingress_policing_rate` (kbit/s) and `ingress_policing_burst` (kbit);
 * - what leaves OVS through the port (the pod's ingress) is shaped by a QoS row on the Port:
 *   `linux-htb` with queue 0 `other_config:max-rate` (bit/s) and `burst` (bytes) on a kernel
 *   netdev; on a DPDK port (Interface type `dpdk…`), where linux-htb does not exist, the same
 *   limit as `egress-policer` with `other_config:cir` (bytes/s) and `cbs` (bytes), the QoS type
 *   OVS-DPDK implements (vswitchd.xml, QoS type egress-policer).
 *
 * QoS and Queue are root tables: OVSDB never garbage-collects them, so every row we create
 * carries our owner key (like Port and Interface, DESIGN §3.7) and is deleted by us, in the
 * same transaction that unlinks it (setPortBandwidth with no shaping, or detachPort).
 */
export interface PortBandwidth {
  /** The pod's egress: Interface ingress_policing_rate/burst. null: no policing (0/0). */
  ingressPolicing: { rateKbps: number; burstKbit: number } | null;
  /** The pod's ingress: the Port's QoS (linux-htb queue 0, or egress-policer on DPDK). null: none. */
  htb: { maxRateBps: number; burstBytes: number } | null;
  /** external_ids of the QoS and Queue rows (Kube-OVN: iface-id, pod=<ns>/<name>). */
  externalIds?: Record<string, string>;
}

export type QosType = 'linux-htb' | 'egress-policer';

export interface PortBandwidthResult {
  /** The QoS type the port has now (null: no QoS of ours). */
  qosType: QosType | null;
  qosUuid: string | null;
  /** false: the rows already were as asked, nothing was written. */
  changed: boolean;
}

interface QosRow {
  uuid: string;
  type: string;
  queues: Map<number, string>;
  otherConfig: Record<string, string>;
  externalIds: Record<string, string>;
}
interface QueueRow {
  uuid: string;
  otherConfig: Record<string, string>;
  externalIds: Record<string, string>;
}

/** Userspace (DPDK) interfaces have no Linux qdisc: OVS-DPDK polices instead of shaping. */
export function qosTypeFor(interfaceType: string): QosType {
  return interfaceType.startsWith('dpdk') ? 'egress-policer' : 'linux-htb';
}

function decodeQueues(v: Value | undefined): Map<number, string> {
  const out = new Map<number, string>();
  if (Array.isArray(v) && v[0] === 'map') {
    for (const [k, val] of v[1]) {
      if (typeof k === 'number' && isUuid(val)) out.set(k, val[1]);
    }
  }
  return out;
}

function decodeQos(r: Row): QosRow {
  return {
    uuid: uuidValue(r._uuid),
    type: stringValue(r.type),
    queues: decodeQueues(r.queues),
    otherConfig: stringMap(r.other_config),
    externalIds: stringMap(r.external_ids),
  };
}

function decodeQueue(r: Row): QueueRow {
  return {
    uuid: uuidValue(r._uuid),
    otherConfig: stringMap(r.other_config),
    externalIds: stringMap(r.external_ids),
  };
}

function sameMap(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

const MAX_INT = Number.MAX_SAFE_INTEGER;

function checkInt(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_INT) {
    throw new InvalidInputError(field, `must be an integer in 0..${MAX_INT}`);
  }
  return v;
}

/** Bad input fails before anything is sent. */
export function validateBandwidth(bw: PortBandwidth): PortBandwidth {
  const p = bw.ingressPolicing;
  const h = bw.htb;
  const ids = bw.externalIds ?? {};
  for (const [k, v] of Object.entries(ids)) {
    if (k.length === 0 || typeof v !== 'string') {
      throw new InvalidInputError(
        'externalIds',
        'must be an object of strings with non-empty keys',
      );
    }
  }
  return {
    ingressPolicing: p
      ? {
          rateKbps: checkInt(p.rateKbps, 'ingressPolicing.rateKbps'),
          burstKbit: checkInt(p.burstKbit, 'ingressPolicing.burstKbit'),
        }
      : null,
    htb: h
      ? {
          maxRateBps: checkInt(h.maxRateBps, 'htb.maxRateBps'),
          burstBytes: checkInt(h.burstBytes, 'htb.burstBytes'),
        }
      : null,
    externalIds: ids,
  };
}

/** What the port has now, read in ONE transaction. */
export interface QosSnapshot {
  portUuid: string;
  /** The Port's qos column as read (the guard of the write compares it). */
  portQos: Value;
  interfaceUuid: string;
  interfaceType: string;
  policing: { rate: number; burst: number };
  /** The port's QoS row when it is ours; null when it has none. */
  qos: QosRow | null;
  /** The port has a QoS row we did not create. */
  foreignQos: string | null;
  /** Our Queue rows by uuid. */
  queues: Map<string, QueueRow>;
}

export async function readPortQos(
  client: OvsdbTransport,
  owner: string,
  port: string,
): Promise<QosSnapshot> {
  const ours = map({ [OWNER_KEY]: owner });
  const res = await client.transact(VSWITCH_DB, [
    {
      op: 'select',
      table: 'Port',
      where: [['name', '==', port]],
      columns: ['_uuid', 'qos', 'interfaces', 'external_ids'],
    },
    {
      op: 'select',
      table: 'Interface',
      where: [['name', '==', port]],
      columns: ['_uuid', 'type', 'ingress_policing_rate', 'ingress_policing_burst'],
    },
    ...selectOwnedQos(ours),
  ]);
  const p = rowsOf(res, 0)[0];
  if (!p) throw new NotFoundError(`port ${port}`);
  const found = stringMap(p.external_ids)[OWNER_KEY];
  if (found !== owner) throw new PortNotOwnedError(port, found ?? null, owner);
  const i = rowsOf(res, 1)[0];
  if (!i) throw new NotFoundError(`interface ${port}`);
  const qosRef = optional(p.qos);
  const qosUuid = qosRef !== null && isUuid(qosRef) ? qosRef[1] : null;
  const qos = rowsOf(res, 2)
    .map(decodeQos)
    .find((q) => q.uuid === qosUuid);
  return {
    portUuid: uuidValue(p._uuid),
    portQos: p.qos ?? emptySet(),
    interfaceUuid: uuidValue(i._uuid),
    interfaceType: stringValue(i.type),
    policing: {
      rate: integerValue(i.ingress_policing_rate),
      burst: integerValue(i.ingress_policing_burst),
    },
    qos: qos ?? null,
    foreignQos: qosUuid !== null && !qos ? qosUuid : null,
    queues: new Map(
      rowsOf(res, 3)
        .map(decodeQueue)
        .map((q) => [q.uuid, q]),
    ),
  };
}

/** Deletes our QoS row and the queues of it that are ours (after the Port no longer points at it). */
function destroyQosOps(q: QosRow, queues: Map<string, QueueRow>, owner: string): Operation[] {
  const ours = map({ [OWNER_KEY]: owner });
  const ops: Operation[] = [
    {
      op: 'delete',
      table: 'QoS',
      where: [
        ['_uuid', '==', uuid(q.uuid)],
        ['external_ids', 'includes', ours],
      ],
    },
  ];
  for (const id of new Set(q.queues.values())) {
    if (!queues.has(id)) continue;
    ops.push({
      op: 'delete',
      table: 'Queue',
      where: [
        ['_uuid', '==', uuid(id)],
        ['external_ids', 'includes', ours],
      ],
    });
  }
  return ops;
}

/** The leading guard: the port is still ours and its qos column is what we read. */
function portGuard(snap: QosSnapshot, owner: string): Operation {
  const ref = uuid(snap.portUuid);
  return guard(
    'Port',
    [
      ['_uuid', '==', ref],
      ['external_ids', 'includes', map({ [OWNER_KEY]: owner })],
    ],
    [{ _uuid: ref, qos: snap.portQos }],
    ['_uuid', 'qos'],
  );
}

/**
 * The transaction that makes the port's limits `bw` from `snap` (pure): [] when the rows
 * already are so. An existing QoS of ours of the right type is updated in place (no
 * needless qdisc rebuild in ovs-vswitchd); one of another type is replaced.
 */
export function bandwidthOps(snap: QosSnapshot, bw: PortBandwidth, owner: string): Operation[] {
  const ops: Operation[] = [];
  const rate = bw.ingressPolicing?.rateKbps ?? 0;
  // Kube-OVN computeIngressPolicingBurstKbit: a rate of 0 forces the burst to 0.
  const burst = rate > 0 ? (bw.ingressPolicing?.burstKbit ?? 0) : 0;
  if (snap.policing.rate !== rate || snap.policing.burst !== burst) {
    ops.push({
      op: 'update',
      table: 'Interface',
      where: [['_uuid', '==', uuid(snap.interfaceUuid)]],
      row: { ingress_policing_rate: rate, ingress_policing_burst: burst },
    });
  }
  const ids = { ...(bw.externalIds ?? {}), [OWNER_KEY]: owner };
  const port = uuid(snap.portUuid);
  const have = snap.qos;
  if (!bw.htb) {
    if (have) {
      ops.push({
        op: 'update',
        table: 'Port',
        where: [['_uuid', '==', port]],
        row: { qos: emptySet() },
      });
      ops.push(...destroyQosOps(have, snap.queues, owner));
    }
    return ops.length > 0 ? [portGuard(snap, owner), ...ops] : [];
  }
  if (snap.foreignQos !== null) {
    throw new OvsOffloadError(
      `port has QoS ${snap.foreignQos} that ovs-offload did not create; left as it is`,
    );
  }
  const type = qosTypeFor(snap.interfaceType);
  const { maxRateBps, burstBytes } = bw.htb;
  // egress-policer counts bytes (cir: bytes/s, cbs: bytes); linux-htb's queue bits/s and bytes.
  const qosOther: Record<string, string> =
    type === 'egress-policer'
      ? { cir: String(Math.floor(maxRateBps / 8)), cbs: String(burstBytes) }
      : {};
  const queueOther = { 'max-rate': String(maxRateBps), burst: String(burstBytes) };
  const names = new UuidNamer();

  if (have && have.type === type) {
    const qosRow: Row = {};
    if (!sameMap(have.otherConfig, qosOther)) qosRow.other_config = map(qosOther);
    if (!sameMap(have.externalIds, ids)) qosRow.external_ids = map(ids);
    // The queues the QoS should have: linux-htb exactly queue 0, egress-policer none.
    let want: [number, Atom][] = [];
    const keep = new Set<string>();
    if (type === 'linux-htb') {
      const q0 = have.queues.get(0);
      const queue = q0 !== undefined ? snap.queues.get(q0) : undefined;
      if (queue) {
        const row: Row = {};
        if (!sameMap(queue.otherConfig, queueOther)) row.other_config = map(queueOther);
        if (!sameMap(queue.externalIds, ids)) row.external_ids = map(ids);
        if (Object.keys(row).length > 0) {
          ops.push({
            op: 'update',
            table: 'Queue',
            where: [['_uuid', '==', uuid(queue.uuid)]],
            row,
          });
        }
        keep.add(queue.uuid);
        want = [[0, uuid(queue.uuid)]];
      } else {
        const q = names.name('queue0');
        ops.push({
          op: 'insert',
          table: 'Queue',
          row: { other_config: map(queueOther), external_ids: map(ids) },
          'uuid-name': q,
        });
        want = [[0, namedUuid(q)]];
      }
    }
    const sameQueues =
      have.queues.size === want.length &&
      want.every(([k, v]) => isUuid(v) && have.queues.get(k) === v[1]);
    if (!sameQueues) qosRow.queues = ['map', want];
    if (Object.keys(qosRow).length > 0) {
      ops.push({
        op: 'update',
        table: 'QoS',
        where: [['_uuid', '==', uuid(have.uuid)]],
        row: qosRow,
      });
    }
    // Queues of ours the QoS no longer holds (a replaced or stray queue).
    for (const id of new Set(have.queues.values())) {
      if (keep.has(id) || !snap.queues.has(id)) continue;
      ops.push({
        op: 'delete',
        table: 'Queue',
        where: [
          ['_uuid', '==', uuid(id)],
          ['external_ids', 'includes', map({ [OWNER_KEY]: owner })],
        ],
      });
    }
    return ops.length > 0 ? [portGuard(snap, owner), ...ops] : [];
  }

  // A new QoS (none yet, or ours of the other type): insert, point the Port at it, and
  // delete the old one in the same transaction.
  const qosName = names.name('qos');
  let queues: OvsdbMap = ['map', []];
  if (type === 'linux-htb') {
    const q = names.name('queue0');
    ops.push({
      op: 'insert',
      table: 'Queue',
      row: { other_config: map(queueOther), external_ids: map(ids) },
      'uuid-name': q,
    });
    queues = ['map', [[0, namedUuid(q)] as [Atom, Atom]]];
  }
  ops.push({
    op: 'insert',
    table: 'QoS',
    row: { type, queues, other_config: map(qosOther), external_ids: map(ids) },
    'uuid-name': qosName,
  });
  ops.push({
    op: 'update',
    table: 'Port',
    where: [['_uuid', '==', port]],
    row: { qos: namedUuid(qosName) },
  });
  if (have) ops.push(...destroyQosOps(have, snap.queues, owner));
  return [portGuard(snap, owner), ...ops];
}

/**
 * The extra operations of a port's detach: unlink and delete its QoS and queues when they
 * are ours (QoS and Queue are root tables: taking the Port off its bridge leaves them).
 */
export function detachQosOps(snap: QosSnapshot | null, owner: string): Operation[] {
  if (!snap?.qos) return [];
  return [
    {
      op: 'update',
      table: 'Port',
      where: [['_uuid', '==', uuid(snap.portUuid)]],
      row: { qos: emptySet() },
    },
    ...destroyQosOps(snap.qos, snap.queues, owner),
  ];
}

/** The QoS uuid a bandwidth transaction left on the port ("named" inserts resolved). */
export function qosUuidAfter(
  ops: readonly Operation[],
  results: readonly { uuid?: string }[],
  before: QosSnapshot,
): string | null {
  const i = ops.findIndex((o) => o.op === 'insert' && o.table === 'QoS');
  if (i >= 0) return results[i]?.uuid ?? null;
  const cleared = ops.some(
    (o) => o.op === 'update' && o.table === 'Port' && setElements(o.row.qos).length === 0,
  );
  return cleared ? null : (before.qos?.uuid ?? null);
}

/** The QoS and Queue rows carrying our owner key (two selects, in this order). */
function selectOwnedQos(ours: ReturnType<typeof map>): Operation[] {
  return [
    {
      op: 'select',
      table: 'QoS',
      where: [['external_ids', 'includes', ours]],
      columns: ['_uuid', 'type', 'queues', 'other_config', 'external_ids'],
    },
    {
      op: 'select',
      table: 'Queue',
      where: [['external_ids', 'includes', ours]],
      columns: ['_uuid', 'other_config', 'external_ids'],
    },
  ];
}

/**
 * Our QoS rows no Port points at, and our Queue rows no QoS holds: what a port removed behind
 * our back (ovs-vsctl del-port) leaves in these root tables. Read in ONE transaction.
 */
export async function orphanQosOps(client: OvsdbTransport, owner: string): Promise<Operation[]> {
  const ours = map({ [OWNER_KEY]: owner });
  const res = await client.transact(VSWITCH_DB, [
    { op: 'select', table: 'Port', where: [], columns: ['qos'] },
    ...selectOwnedQos(ours),
  ]);
  const used = new Set(
    rowsOf(res, 0).flatMap((p) => {
      const a = optional(p.qos);
      return a !== null && isUuid(a) ? [a[1]] : [];
    }),
  );
  const qos = rowsOf(res, 1).map(decodeQos);
  const dead = qos.filter((q) => !used.has(q.uuid));
  const held = new Set(qos.filter((q) => used.has(q.uuid)).flatMap((q) => [...q.queues.values()]));
  const ops: Operation[] = dead.map((q) => ({
    op: 'delete',
    table: 'QoS',
    where: [
      ['_uuid', '==', uuid(q.uuid)],
      ['external_ids', 'includes', ours],
    ],
  }));
  for (const q of rowsOf(res, 2).map(decodeQueue)) {
    if (held.has(q.uuid)) continue;
    ops.push({
      op: 'delete',
      table: 'Queue',
      where: [
        ['_uuid', '==', uuid(q.uuid)],
        ['external_ids', 'includes', ours],
      ],
    });
  }
  return ops;
}
