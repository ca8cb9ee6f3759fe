import {
  errorMessage,
  InvalidInputError,
  NotFoundError,
  OvsOffloadError,
  silentLogger,
  type Logger,
} from '../sys/index.js';
import {
  InterfaceError,
  OvsdbError,
  OvsdbProtocolError,
  PortConflictError,
  PortNotOwnedError,
} from './errors.js';
import {
  emptySet,
  integerValue,
  map,
  optional,
  optionalInteger,
  optionalString,
  stringMap,
  stringValue,
  uuidValue,
} from './ovsdb/index.js';
import {
  attachOps,
  createBridgeOps,
  detachOps,
  dpdkStateOps,
  isGuardFailure,
  otherConfigOps,
} from './vswitch-ops.js';
import {
  assertOwner,
  assertPortName,
  assertStringMap,
  checkConfigValues,
  validateAttach,
} from './vswitch-validate.js';
import { readOpenVswitchMap, readTopology, rowsOf, type Topology } from './vswitch-topology.js';
import {
  OWNER_KEY,
  VSWITCH_DB,
  type AttachPortRequest,
  type AttachResult,
  type DpdkState,
  type InterfaceInfo,
  type OffloadConfig,
  type OvsdbTransport,
  type OwnedPort,
  type StalePort,
  type VswitchOptions,
} from './vswitch-types.js';
import { VswitchWatch } from './vswitch-watch.js';
import {
  bandwidthOps,
  detachQosOps,
  orphanQosOps,
  qosTypeFor,
  qosUuidAfter,
  readPortQos,
  validateBandwidth,
  type PortBandwidth,
  type PortBandwidthResult,
} from './vswitch-qos.js';

export * from './vswitch-types.js';
export type { PortBandwidth, PortBandwidthResult, QosType } from './vswitch-qos.js';

/** ovs-vswitchd's Interface `error` when the netdev it should open does not exist. */
const DEVICE_GONE_RE = /could not open network device|No such device/i;

/** Concurrent writers can make a precondition fail between our read and our write. */
const MAX_ATTEMPTS = 3;

/**
 * Bridges and ports of the local Open vSwitch, over one OvsdbClient. Every mutation is one
 * transaction whose preconditions are checked by the server (wait operations), so a refused
 * call changes nothing. Rows we create carry `ovs-offload-owner=<owner>` on Port and
 * Interface (DESIGN §3.7), and we only ever remove rows that carry it.
 *
 * Errors: InvalidInputError for bad arguments (nothing sent), NotFoundError, PortConflictError,
 * PortNotOwnedError, InterfaceError; anything from the client is wrapped with `{ cause }`
 * ("attach port X to br-int: …"); use isRetryable() to tell a lost connection apart.
 *
 * The Vswitch does not own the client: close() ends its monitor, the caller closes the client.
 */
export class Vswitch {
  readonly owner: string;
  private readonly logger: Logger;
  private readonly watch: VswitchWatch;

  constructor(
    private readonly client: OvsdbTransport,
    opts: VswitchOptions,
  ) {
    this.owner = assertOwner(opts.owner);
    this.logger = opts.logger ?? silentLogger();
    this.watch = new VswitchWatch(client, this.logger);
  }

  /**
   * Creates the bridge (with its internal port, like ovs-vsctl add-br) unless it exists;
   * `datapathType` applies to a bridge it creates, an existing one is never changed.
   */
  async ensureBridge(
    name: string,
    opts: { datapathType?: string } = {},
  ): Promise<{ uuid: string; created: boolean }> {
    assertPortName(name, 'bridge');
    if (opts.datapathType !== undefined && !/^[a-z]*$/.test(opts.datapathType)) {
      throw new InvalidInputError(
        'datapathType',
        `${JSON.stringify(opts.datapathType)} is not a datapath type`,
      );
    }
    return this.wrap(`ensure bridge ${name}`, async () => {
      for (let attempt = 1; ; attempt++) {
        const [sel] = await this.client.transact(VSWITCH_DB, [
          {
            op: 'select',
            table: 'Bridge',
            where: [['name', '==', name]],
            columns: ['_uuid', 'datapath_type'],
          },
        ]);
        const row = sel?.rows?.[0];
        if (row) {
          const id = uuidValue(row._uuid);
          // An existing bridge is left as it is (like add-br --may-exist): br-int usually
          // belongs to ovn-controller or Kube-OVN, and changing its datapath would
          // reconfigure a live bridge that is not ours.
          const have = typeof row.datapath_type === 'string' ? row.datapath_type : '';
          if (
            opts.datapathType !== undefined &&
            (have || 'system') !== (opts.datapathType || 'system')
          ) {
            this.logger.warn(
              { bridge: name, datapathType: have || 'system', wanted: opts.datapathType },
              'existing bridge has another datapath type; left as it is',
            );
          }
          return { uuid: id, created: false };
        }
        try {
          const res = await this.client.transact(
            VSWITCH_DB,
            createBridgeOps(name, opts.datapathType),
          );
          const created = res[3]?.uuid;
          if (!created) throw new OvsdbProtocolError('insert Bridge: no uuid in the reply');
          return { uuid: created, created: true };
        } catch (err) {
          // Somebody (ovn-controller creates br-int) was faster: read it back.
          if (err instanceof OvsdbError && err.isIndexConflict && attempt < MAX_ATTEMPTS) continue;
          if (isGuardFailure(err)) {
            throw new NotFoundError('Open_vSwitch row', {
              message: 'Open_vSwitch table has no row (database not initialised: ovs-vsctl init)',
              cause: err,
            });
          }
          throw err;
        }
      }
    });
  }

  /**
   * Puts an interface on a bridge in ONE transaction (insert Interface, insert Port, add it to
   * Bridge.ports), guarded by "the bridge exists". Like `ovs-vsctl --may-exist add-port`, a
   * port of that name already on that bridge is left as it is (created: false); on another
   * bridge it is a PortConflictError. It does not wait for ovs-vswitchd (see waitForOfport).
   */
  async attachPort(request: AttachPortRequest): Promise<AttachResult> {
    const req = validateAttach(request, this.owner);
    return this.wrap(`attach port ${req.name} to ${req.bridge}`, async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          const res = await this.client.transact(VSWITCH_DB, attachOps(req));
          const interfaceUuid = res[1]?.uuid;
          const portUuid = res[2]?.uuid;
          if (!interfaceUuid || !portUuid)
            throw new OvsdbProtocolError('insert: no uuid in the reply');
          this.logger.debug({ port: req.name, bridge: req.bridge }, 'port attached');
          return { portUuid, interfaceUuid, created: true };
        } catch (err) {
          if (isGuardFailure(err)) {
            throw new NotFoundError(`bridge ${req.bridge}`, {
              message: `attach port ${req.name} to ${req.bridge}: bridge ${req.bridge} does not exist`,
              cause: err,
            });
          }
          if (!(err instanceof OvsdbError && err.isIndexConflict)) throw err;
          const existing = await this.existingPort(req.name, req.bridge);
          if (existing) return existing;
          // It vanished between our insert and our read: try again.
          if (attempt >= MAX_ATTEMPTS) throw err;
        }
      }
    });
  }

  /**
   * Removes a port we own; false when there is no such port (DEL is idempotent). A port
   * without our owner key (or another node's) is refused with PortNotOwnedError, untouched.
   */
  async detachPort(name: string): Promise<boolean> {
    assertPortName(name, 'name', 'dpdk');
    return this.wrap(`detach port ${name}`, async () => {
      for (let attempt = 1; ; attempt++) {
        const [sel] = await this.client.transact(VSWITCH_DB, [
          {
            op: 'select',
            table: 'Port',
            where: [['name', '==', name]],
            columns: ['_uuid', 'external_ids', 'qos'],
          },
        ]);
        const row = sel?.rows?.[0];
        if (!row) return false;
        const found = stringMap(row.external_ids)[OWNER_KEY];
        if (found !== this.owner) throw new PortNotOwnedError(name, found ?? null, this.owner);
        const portUuid = uuidValue(row._uuid);
        // Rate limits (QoS and Queue are root tables): deleted with the port, in its transaction.
        const qos =
          optional(row.qos) === null
            ? undefined
            : {
                value: row.qos ?? emptySet(),
                ops: detachQosOps(
                  // A port without its interface has nothing of ours to read: detach it anyway.
                  await readPortQos(this.client, this.owner, name).catch((err: unknown) => {
                    if (err instanceof NotFoundError) return null;
                    throw err;
                  }),
                  this.owner,
                ),
              };
        try {
          await this.client.transact(VSWITCH_DB, detachOps(portUuid, this.owner, qos));
          this.logger.debug({ port: name }, 'port detached');
          return true;
        } catch (err) {
          if (isGuardFailure(err) && attempt < MAX_ATTEMPTS) continue;
          throw err;
        }
      }
    });
  }

  /**
   * Sets a pod port's rate limits as Kube-OVN does (see vswitch-qos.ts) in ONE transaction,
   * guarded by "the port is ours and its qos is what we read": Interface ingress_policing_*,
   * and a QoS of ours on the Port (linux-htb with queue 0, or egress-policer on a DPDK
   * interface). null parts are removed, our QoS and Queue rows deleted with them. A QoS row
   * on the port that we did not create is never touched (asking to shape then fails).
   */
  async setPortBandwidth(port: string, bw: PortBandwidth): Promise<PortBandwidthResult> {
    assertPortName(port, 'port', 'dpdk');
    const want = validateBandwidth(bw);
    return this.wrap(`set bandwidth of port ${port}`, async () => {
      for (let attempt = 1; ; attempt++) {
        const snap = await readPortQos(this.client, this.owner, port);
        const ops = bandwidthOps(snap, want, this.owner);
        const qosType = want.htb ? qosTypeFor(snap.interfaceType) : null;
        if (ops.length === 0) {
          return {
            qosType: snap.qos ? qosType : null,
            qosUuid: snap.qos?.uuid ?? null,
            changed: false,
          };
        }
        try {
          const res = await this.client.transact(VSWITCH_DB, ops);
          this.logger.debug({ port, bandwidth: want }, 'port bandwidth set');
          return { qosType, qosUuid: qosUuidAfter(ops, res, snap), changed: true };
        } catch (err) {
          // The port's qos changed between our read and our write: read again.
          if (isGuardFailure(err) && attempt < MAX_ATTEMPTS) continue;
          throw err;
        }
      }
    });
  }

  /** Removes a port's rate limits (and our QoS/Queue rows); false when there were none. */
  async clearPortBandwidth(port: string): Promise<boolean> {
    const r = await this.setPortBandwidth(port, { ingressPolicing: null, htb: null });
    return r.changed;
  }

  /**
   * Deletes our QoS rows no Port points at and our Queue rows no QoS holds (a port removed
   * behind our back leaves them: root tables are never collected); resolves how many. Rows
   * that became referenced meanwhile fail the commit (referential integrity): nothing is lost.
   */
  async sweepOrphanQos(): Promise<number> {
    return this.wrap('delete unreferenced QoS rows', async () => {
      const ops = await orphanQosOps(this.client, this.owner);
      if (ops.length === 0) return 0;
      await this.client.transact(VSWITCH_DB, ops);
      this.logger.info({ rows: ops.length }, 'unreferenced QoS/Queue rows of ours deleted');
      return ops.length;
    });
  }

  /** Resolves with the interface's ofport once ovs-vswitchd assigned it (monitor-driven). */
  async waitForOfport(name: string, timeoutMs: number): Promise<number> {
    let ofport = 0;
    await this.watch.waitFor(name, `wait for ofport of ${name}`, timeoutMs, () => {
      const row = this.watch.iface(name);
      if (!row) return false;
      const p = optionalInteger(row.ofport);
      if (p === -1)
        throw new InterfaceError(name, optionalString(row.error) ?? 'ofport -1 (no error text)');
      if (p === null || p <= 0) return false;
      ofport = p;
      return true;
    });
    return ofport;
  }

  /** Resolves once the interface's external_ids[key] equals value (e.g. ovn-installed=true). */
  async waitForExternalId(
    name: string,
    key: string,
    value: string,
    timeoutMs: number,
  ): Promise<void> {
    await this.watch.waitFor(name, `wait for ${key}=${value} on ${name}`, timeoutMs, () => {
      const row = this.watch.iface(name);
      return row !== undefined && stringMap(row.external_ids)[key] === value;
    });
  }

  /**
   * Waits until ovs-vswitchd has applied everything committed so far (what ovs-vsctl waits
   * for by default): bumps next_cfg and waits for cur_cfg to reach it.
   */
  async syncVswitchd(timeoutMs: number): Promise<void> {
    const target = await this.wrap('sync ovs-vswitchd', async () => {
      const res = await this.client.transact(VSWITCH_DB, [
        { op: 'mutate', table: 'Open_vSwitch', where: [], mutations: [['next_cfg', '+=', 1]] },
        { op: 'select', table: 'Open_vSwitch', where: [], columns: ['next_cfg'] },
      ]);
      const row = rowsOf(res, 1)[0];
      if (!row) throw new NotFoundError('Open_vSwitch row');
      return integerValue(row.next_cfg);
    });
    await this.watch.waitFor(
      null,
      `wait for ovs-vswitchd to apply cfg ${target}`,
      timeoutMs,
      () => {
        const root = this.watch.root();
        return root !== undefined && integerValue(root.cur_cfg) >= target;
      },
    );
  }

  /** Ports carrying our owner key, with their main interface. */
  async listOwnedPorts(): Promise<OwnedPort[]> {
    const topo = await this.read('list owned ports', {
      port: [['external_ids', 'includes', map({ [OWNER_KEY]: this.owner })]],
    });
    return topo.ports
      .map((p): OwnedPort => {
        const i = topo.mainInterface(p);
        return {
          name: p.name,
          type: i?.type ?? '',
          bridge: topo.bridgeOfPort.get(p.uuid)?.name ?? null,
          portUuid: p.uuid,
          interfaceUuid: i?.uuid ?? null,
          ofport: i?.ofport ?? null,
          externalIds: i?.externalIds ?? {},
          error: i?.error ?? null,
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Every interface with its port and bridge (to map datapath ports to pods). */
  async listInterfaces(): Promise<InterfaceInfo[]> {
    const topo = await this.read('list interfaces');
    return topo.interfaces.map((i) => topo.info(i)).sort((a, b) => a.name.localeCompare(b.name));
  }

  async findInterfacesByExternalId(key: string, value: string): Promise<InterfaceInfo[]> {
    assertStringMap({ [key]: value }, 'external id');
    const topo = await this.read(`find interfaces with ${key}=${value}`, {
      iface: [['external_ids', 'includes', map({ [key]: value })]],
    });
    return topo.interfaces.map((i) => topo.info(i)).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The bridge a port is on, or null when there is no such port. */
  async getPortBridge(name: string): Promise<string | null> {
    assertPortName(name, 'name', 'dpdk');
    const topo = await this.read(`find bridge of port ${name}`, {
      port: [['name', '==', name]],
      iface: null,
    });
    const p = topo.port(name);
    return p ? (topo.bridgeOfPort.get(p.uuid)?.name ?? null) : null;
  }

  /**
   * Sets (string) or removes (null) Open_vSwitch other_config keys; resolves whether anything
   * changed. ovs-vswitchd reads hw-offload only at start (restart it to apply).
   */
  async setOtherConfig(values: Record<string, string | null>): Promise<boolean> {
    const wanted = checkConfigValues(values);
    return this.wrap('set Open_vSwitch other_config', async () => {
      const current = await readOpenVswitchMap(this.client, 'other_config');
      const changed = Object.entries(wanted).filter(([k, v]) => (current[k] ?? null) !== v);
      if (changed.length === 0) return false;
      const res = await this.client.transact(VSWITCH_DB, otherConfigOps(changed));
      if (res[0]?.count !== 1) throw new NotFoundError('Open_vSwitch row');
      this.logger.info({ changed: Object.fromEntries(changed) }, 'other_config updated');
      return true;
    });
  }

  async getOffloadConfig(): Promise<OffloadConfig> {
    const oc = await this.wrap('read Open_vSwitch other_config', () =>
      readOpenVswitchMap(this.client, 'other_config'),
    );
    const hw = oc['hw-offload'];
    return {
      hwOffload: hw === undefined ? null : hw === 'true',
      tcPolicy: oc['tc-policy'] ?? null,
    };
  }

  /** The bridge's datapath_type (null: no such bridge) and whether DPDK is initialised. */
  async getDpdkState(bridge: string): Promise<DpdkState> {
    assertPortName(bridge, 'bridge');
    return this.wrap(`read DPDK state of ${bridge}`, async () => {
      const res = await this.client.transact(VSWITCH_DB, dpdkStateOps(bridge));
      const ovs = rowsOf(res, 0)[0];
      const br = rowsOf(res, 1)[0];
      return {
        dpdkInitialized: ovs?.dpdk_initialized === true,
        datapathType: br ? stringValue(br.datapath_type) : null,
      };
    });
  }

  /** external_ids of the Open_vSwitch row (system-id, ovn-remote, …). */
  async getExternalIds(): Promise<Record<string, string>> {
    return this.wrap('read Open_vSwitch external_ids', () =>
      readOpenVswitchMap(this.client, 'external_ids'),
    );
  }

  /**
   * Owned ports whose device is gone (ovs-vswitchd reports "could not open network device")
   * or whose pod netns (external_ids:pod_netns) no longer exists: what GC should detach.
   */
  async findStalePorts(probe: {
    netnsExists(path: string): Promise<boolean>;
  }): Promise<StalePort[]> {
    const out: StalePort[] = [];
    for (const p of await this.listOwnedPorts()) {
      // A DPDK port says "could not open network device" too when ovs-vswitchd has no DPDK
      // (yet): that is no proof its device is gone.
      if (p.error !== null && p.type !== 'dpdk' && DEVICE_GONE_RE.test(p.error)) {
        out.push({ ...p, reason: 'device-gone', detail: p.error });
        continue;
      }
      const netns = p.externalIds.pod_netns;
      if (netns && !(await probe.netnsExists(netns))) {
        out.push({ ...p, reason: 'netns-gone', detail: `pod netns ${netns} no longer exists` });
      }
    }
    return out;
  }

  /** Ends the monitor behind the waits (pending waits reject). The client stays open. */
  close(): Promise<void> {
    return this.watch.close();
  }

  private read(what: string, where?: Parameters<typeof readTopology>[1]): Promise<Topology> {
    return this.wrap(what, () => readTopology(this.client, where));
  }

  /** The port if it is on `bridge`; a conflict error if the name is taken elsewhere. */
  private async existingPort(name: string, bridge: string): Promise<AttachResult | undefined> {
    const topo = await readTopology(this.client, {
      port: [['name', '==', name]],
      iface: [['name', '==', name]],
    });
    const port = topo.port(name);
    if (!port) {
      const iface = topo.iface(name);
      if (!iface) return undefined;
      const owner = topo.info(iface);
      throw new PortConflictError(
        name,
        bridge,
        owner.bridge,
        `interface ${name} already belongs to port ${owner.port ?? '(none)'}`,
      );
    }
    const on = topo.bridgeOfPort.get(port.uuid)?.name ?? null;
    if (on !== bridge) {
      throw new PortConflictError(
        name,
        bridge,
        on,
        `port ${name} already exists on bridge ${on ?? '(none)'}`,
      );
    }
    const iface = topo.iface(name);
    const interfaceUuid =
      iface && port.interfaces.includes(iface.uuid) ? iface.uuid : port.interfaces[0];
    if (!interfaceUuid) throw new OvsdbProtocolError(`port ${name} has no interface`);
    return { portUuid: port.uuid, interfaceUuid, created: false };
  }

  /** Runs fn; errors that are not already ours get "what: cause" with `{ cause }`. */
  private async wrap<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (
        err instanceof InvalidInputError ||
        err instanceof NotFoundError ||
        err instanceof PortConflictError ||
        err instanceof PortNotOwnedError
      ) {
        throw err;
      }
      throw new OvsOffloadError(`${what}: ${errorMessage(err)}`, { cause: err });
    }
  }
}
