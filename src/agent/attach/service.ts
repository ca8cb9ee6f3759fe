import type { AgentRequest, CniResult } from '../../cni/types.js';
import { errorMessage, InvalidInputError } from '../../sys/index.js';
import { USERSPACE_DRIVERS } from '../../vf/index.js';
import { isTransient } from '../cni-errors.js';
import { gcIpam } from '../ipam.js';
import type { CniHandler } from '../cni-server.js';
import { NotReadyError, RequestEnvError, TransientError, VfInUseError } from '../errors.js';
import { KeyedLock } from '../locks.js';
import type { ResolvedVf } from '../nic-cache.js';
import { netnsExists } from '../podnet.js';
import type { AttachmentState } from '../state.js';
import { Timeline } from '../timeline.js';
import { addAttachment, chooseMode, snapshotKnobs, type AddDeps, type IpSource } from './add.js';
import { checkAttachment } from './check.js';
import { resolveRepresentorPort } from './dpdk-port.js';
import { checkNetconfMtu, readOvnEncap, type OvnEncap } from './mtu.js';
import { validAttachments } from './gc-list.js';
import { ATTACHMENT_KEY, attachmentKey as key, takeDownPort } from './keys.js';
import { parseAttachRequest, type AttachRequest } from './request.js';
import { UndoRetries, type PendingUndo } from './retries.js';
import { checkPodTarget } from './target.js';
import { teardown, type TeardownOptions } from './teardown.js';

export interface AttachmentServiceDeps extends Omit<
  AddDeps,
  'ovnManaged' | 'ovnEncap' | 'ipSource'
> {
  ipSource?: IpSource;
  /** OVSDB connection up (STATUS). */
  ovsdbReady(): boolean;
}

export type AttachmentEvent = { op: 'add' | 'del'; state: AttachmentState };

/**
 * The CNI operations of the agent. Attachments live in state files (the truth, for crash
 * safety) and in an in-memory index (for the hot path).
 *
 * Locks, always taken in this order: `att:<containerID>/<ifName>` (the attachment), then
 * `vf:<pci>` (the VF). ADD takes both at once (KeyedLock.runAll sorts, and "att:" < "vf:");
 * DEL takes the attachment lock, reads the state under it, then the VF lock. So a DEL that
 * arrives while its ADD is queued waits for that ADD and undoes all it did, and an ADD that
 * cleans another (stale) attachment of its VF holds that VF's lock while the stale one's DEL,
 * if any, re-reads the state after taking the VF lock and finds nothing left to do.
 */
export class AttachmentService implements Omit<CniHandler, 'state'> {
  private readonly index = new Map<string, AttachmentState>();
  private readonly locks = new KeyedLock();
  private readonly retries: UndoRetries;
  private ovnCheckedAt = 0;
  private ovsIds: Record<string, string> = {};
  private encapCache: { at: number; value: Promise<OvnEncap | null> } | null = null;
  private readonly listeners: ((e: AttachmentEvent) => void)[] = [];

  constructor(private readonly d: AttachmentServiceDeps) {
    this.retries = new UndoRetries(d.logger);
  }

  onChange(fn: (e: AttachmentEvent) => void): void {
    this.listeners.push(fn);
  }

  private emit(e: AttachmentEvent): void {
    for (const l of this.listeners) l(e);
  }

  attachments(): AttachmentState[] {
    return [...this.index.values()];
  }

  /** Undos that failed for a transient reason and are retried in the background. */
  pendingUndos(): PendingUndo[] {
    return this.retries.list();
  }

  close(): void {
    this.retries.close();
  }

  /**
   * Loads state files; undoes interrupted ADDs and attachments whose pod netns is gone. An
   * undo that fails for a transient reason is retried in the background (never blocks start).
   */
  async reconcile(): Promise<{
    kept: number;
    cleaned: number;
    pending: number;
    portsRemoved: number;
  }> {
    let cleaned = 0;
    for (const s of await this.d.store.list()) {
      const k = key(s.containerID, s.ifName);
      const gone = !(await netnsExists(s.netns));
      if (s.addCompleted && !gone) {
        this.index.set(k, s);
        continue;
      }
      this.d.logger.info(
        {
          containerID: s.containerID,
          ifName: s.ifName,
          reason: s.addCompleted ? 'netns gone' : 'ADD never completed',
        },
        'cleaning attachment left from before start',
      );
      this.index.set(k, s);
      if (await this.undo(s)) cleaned++;
    }
    // Pod ports we own with no attachment behind them (a crash between the OVS attach and the
    // state write cannot happen — the state is written first — but a lost state dir can).
    let portsRemoved = 0;
    const known = new Set([...this.index.values()].map((s) => s.representor));
    for (const p of await this.d.vswitch.listOwnedPorts()) {
      if (!p.externalIds[ATTACHMENT_KEY] || known.has(p.name)) continue;
      if (await takeDownPort(this.d, p.name, p.type)) portsRemoved++;
      this.d.logger.info({ port: p.name }, 'removed owned pod port without attachment state');
    }
    const pending = this.retries.list().length;
    return { kept: this.index.size - pending, cleaned, pending, portsRemoved };
  }

  /**
   * Undoes `s` under its locks and forgets it; true when done. A transient failure keeps the
   * state and schedules a retry; any other failure was logged by teardown and is released.
   */
  private async undo(s: AttachmentState, opts: TeardownOptions = {}): Promise<boolean> {
    const k = key(s.containerID, s.ifName);
    const attempt = () =>
      this.locks.run(`att:${k}`, () =>
        this.locks.run(`vf:${s.vf.pci}`, async () => {
          if (this.index.get(k) !== s) return; // a DEL or a new ADD dealt with it meanwhile
          await this.undoLocked(s, opts);
        }),
      );
    try {
      await attempt();
      return true;
    } catch (err) {
      this.retries.schedule(k, err, attempt);
      return false;
    }
  }

  /** With both locks held: teardown, then the state file and the index entry go. */
  private async undoLocked(s: AttachmentState, opts: TeardownOptions = {}): Promise<void> {
    const k = key(s.containerID, s.ifName);
    await teardown(this.deps(), s, opts);
    const t0 = process.hrtime.bigint();
    await this.d.store.remove(s.containerID, s.ifName);
    if (opts.steps) {
      opts.steps['state-remove'] = Math.round(Number(process.hrtime.bigint() - t0) / 1e3) / 1e3;
    }
    if (this.index.get(k) === s) this.index.delete(k);
    this.retries.done(k);
  }

  private deps() {
    return {
      vswitch: this.d.vswitch,
      nics: this.d.nics,
      ip: this.d.ip,
      runner: this.d.runner,
      logger: this.d.logger,
    };
  }

  /** The Open_vSwitch row's external_ids, read at most every 10 s. */
  private async ovsExternalIds(): Promise<Record<string, string>> {
    if (Date.now() - this.ovnCheckedAt > 10_000) {
      this.ovsIds = await this.d.vswitch.getExternalIds();
      this.ovnCheckedAt = Date.now();
    }
    return this.ovsIds;
  }

  private async ovnManaged(): Promise<boolean> {
    return Boolean((await this.ovsExternalIds())['ovn-remote']);
  }

  /** OVN's encapsulation and the interface holding its address, read at most every 10 s. */
  private ovnEncap(): Promise<OvnEncap | null> {
    const now = Date.now();
    if (!this.encapCache || now - this.encapCache.at > 10_000) {
      const value = this.ovsExternalIds().then((ids) => readOvnEncap(this.d.ip, ids));
      // A failed read is not kept: the next ADD asks again.
      value.catch(() => {
        if (this.encapCache?.value === value) this.encapCache = null;
      });
      this.encapCache = { at: now, value };
    }
    return this.encapCache.value;
  }

  async add(body: AgentRequest): Promise<CniResult> {
    const req = parseAttachRequest(body, 'add');
    if (!req.deviceId) {
      throw new InvalidInputError(
        'deviceID',
        'required (Multus passes it from the device plugin as runtimeConfig.deviceID)',
      );
    }
    const timeline = new Timeline();
    const deviceId = req.deviceId;
    const k = key(req.containerID, req.ifName);
    // deviceID is a checked PCI address (NetConf schema, lowercased): the VF lock key. The VF
    // is read under its lock, since a DEL that held it may just have brought it home.
    if (this.locks.busy(`vf:${deviceId}`)) {
      // A slow ADD is often just queued behind another pod's operation on the same VF.
      this.d.logger.info(
        { containerID: req.containerID, vf: deviceId },
        'ADD waits: another operation holds this VF',
      );
    }
    return this.locks.runAll([`vf:${deviceId}`, `att:${k}`], async () => {
      // Check before mutate: the pod side first, then the VF; nothing has changed yet.
      await checkPodTarget(this.d.ip, req.netns, req.ifName);
      const vf = await this.d.nics.resolveVf(deviceId);
      timeline.mark('resolve');
      const existing = this.index.get(k) ?? (await this.d.store.read(req.containerID, req.ifName));
      if (existing?.addCompleted && (await netnsExists(existing.netns))) {
        // CNI: an ADD for an interface that exists MUST fail; the runtime DELs first.
        throw new RequestEnvError(
          'CNI_IFNAME',
          `${req.ifName} of container ${req.containerID} is already attached (in ${existing.netns})`,
        );
      }
      if (existing) {
        // An earlier ADD that never completed, or whose pod is gone: undo it first.
        await this.undoLocked(existing);
      }
      return this.addOnce(req, vf, timeline);
    });
  }

  private async addOnce(req: AttachRequest, vf: ResolvedVf, t: Timeline): Promise<CniResult> {
    for (const other of [...this.index.values()]) {
      if (
        other.vf.pci !== vf.pci ||
        key(other.containerID, other.ifName) === key(req.containerID, req.ifName)
      ) {
        continue;
      }
      if (other.addCompleted && (await netnsExists(other.netns))) {
        throw new VfInUseError(
          vf.pci,
          `${other.pod.namespace}/${other.pod.name}`,
          other.containerID,
        );
      }
      // Its pod is gone (or its ADD never completed) but its DEL has not come: undo it now
      // (we hold the VF lock), or its port would block ours and its late DEL would restore
      // settings onto our VF.
      this.d.logger.info(
        { containerID: other.containerID, vf: vf.pci },
        'cleaning a stale attachment of this VF',
      );
      await this.undoLocked(other);
      vf = await this.d.nics.resolveVf(vf.pci);
    }
    const mode = chooseMode(req, vf);
    const netdevless = vf.driver !== null && USERSPACE_DRIVERS.has(vf.driver);
    if (!netdevless && vf.netdev === null) {
      throw new InvalidInputError(
        'deviceID',
        `VF ${vf.pci} has no netdev on this host (driver ${vf.driver ?? 'none'}): in use by another network namespace, or unbound`,
      );
    }
    const bridge = req.conf.bridge ?? this.d.config.ovs.bridge;
    const port = mode === 'offload' ? await resolveRepresentorPort(this.d, vf, bridge) : null;
    const representor = port?.name ?? null;
    const facts = vf.netdev ? await this.d.nics.netdevFacts(vf.pci, vf.netdev) : null;
    // An explicit MTU the uplink cannot carry is refused before the state file (mtu.ts).
    if (req.conf.mtu !== undefined) {
      const uplink = vf.pfNetdev ? await this.d.nics.netdevFacts(vf.pfPci, vf.pfNetdev) : null;
      checkNetconfMtu(req.conf.mtu, uplink?.mtu ?? null);
    }
    t.mark('inspect');
    const s: AttachmentState = {
      version: 1,
      containerID: req.containerID,
      ifName: req.ifName,
      network: req.conf.name,
      netns: req.netns,
      mode,
      pod: req.pod,
      vf: {
        pci: vf.pci,
        pfPci: vf.pfPci,
        pfNetdev: vf.pfNetdev,
        vfIndex: vf.vfIndex,
        originalName: vf.netdev,
        originalMac: facts?.mac ?? null,
        originalMtu: facts?.mtu ?? null,
        driver: vf.driver,
      },
      representor,
      ...(port?.dpdkDevargs !== undefined ? { dpdkDevargs: port.dpdkDevargs } : {}),
      bridge: mode === 'offload' ? bridge : null,
      ifaceId: mode === 'offload' ? req.ifaceId : null,
      knobsBefore: null,
      ipam: req.conf.ipam ? { config: req.raw, cniArgs: req.cniArgs, path: req.path } : null,
      addCompleted: false,
      createdAt: new Date().toISOString(),
      result: null,
    };
    if (mode === 'legacy') s.knobsBefore = await snapshotKnobs(this.addDeps(), vf);
    // The state file goes to disk before the first host mutation.
    await this.d.store.write(s);
    t.mark('state');
    const k = key(s.containerID, s.ifName);
    this.index.set(k, s);
    const progress = { ipamAdded: false };
    try {
      const result = await addAttachment(this.addDeps(), req, vf, s, t, progress);
      s.addCompleted = true;
      s.result = result as unknown as Record<string, unknown>;
      await this.d.store.write(s);
      t.mark('state-done');
      this.d.logger.debug(
        { containerID: req.containerID, steps: t.steps, ms: t.totalMs },
        'ADD steps',
      );
      this.emit({ op: 'add', state: s });
      this.d.logger.info(
        {
          containerID: req.containerID,
          pod: `${req.pod.namespace}/${req.pod.name}`,
          vf: vf.pci,
          representor,
          mode,
        },
        'ADD done',
      );
      return result;
    } catch (err) {
      this.d.logger.warn(
        { containerID: req.containerID, err: errorMessage(err) },
        'ADD failed; undoing',
      );
      try {
        await this.undoLocked(s, { ipamAdded: progress.ipamAdded });
      } catch (undoErr) {
        // Only a transient failure gets here: the state stays, a background retry (or the
        // runtime's DEL) finishes the undo. The VF is refused meanwhile, never lost.
        const retry = () =>
          this.locks.run(`att:${k}`, () =>
            this.locks.run(`vf:${s.vf.pci}`, async () => {
              if (this.index.get(k) === s)
                await this.undoLocked(s, { ipamAdded: progress.ipamAdded });
            }),
          );
        this.retries.schedule(k, undoErr, retry);
      }
      throw err;
    }
  }

  private addDeps() {
    return {
      config: this.d.config,
      vswitch: this.d.vswitch,
      nics: this.d.nics,
      ip: this.d.ip,
      runner: this.d.runner,
      store: this.d.store,
      logger: this.d.logger,
      ipSource: this.d.ipSource,
      ovnManaged: () => this.ovnManaged(),
      ovnEncap: () => this.ovnEncap(),
      pods: this.d.pods,
    };
  }

  async del(body: AgentRequest): Promise<void> {
    const req = parseAttachRequest(body, 'del');
    const k = key(req.containerID, req.ifName);
    const t = new Timeline();
    await this.locks.run(`att:${k}`, async () => {
      t.mark('lock-wait');
      // Read under the attachment lock: an ADD of this attachment queued before us has
      // finished (or failed and undone itself) by now.
      const s = this.index.get(k) ?? (await this.d.store.read(req.containerID, req.ifName));
      if (!s) {
        // Nothing recorded: DEL still succeeds (CNI: missing resources are not an error), and
        // a pod port of ours for this attachment is removed if one is left.
        await this.removeOrphanPort(k);
        return;
      }
      await this.locks.run(`vf:${s.vf.pci}`, async () => {
        // Again under the VF lock: an ADD may have cleaned this stale attachment meanwhile,
        // and its VF may now serve another pod.
        const current = this.index.get(k) ?? (await this.d.store.read(req.containerID, req.ifName));
        t.mark('vf-lock-wait');
        if (!current) return;
        this.index.set(k, current);
        const steps: Record<string, number> = {};
        await this.undoLocked(current, {
          ...(req.netns ? { requestNetns: req.netns } : {}),
          steps,
        });
        t.mark('undo');
        this.d.logger.debug(
          { containerID: req.containerID, steps: { ...t.steps, ...steps }, ms: t.totalMs },
          'DEL steps',
        );
        this.emit({ op: 'del', state: current });
        this.d.logger.info(
          {
            containerID: current.containerID,
            pod: `${current.pod.namespace}/${current.pod.name}`,
            vf: current.vf.pci,
          },
          'DEL done',
        );
      });
    });
  }

  private async removeOrphanPort(k: string): Promise<void> {
    const ifaces = await this.d.vswitch.findInterfacesByExternalId(ATTACHMENT_KEY, k);
    for (const i of ifaces) await takeDownPort(this.d, i.name, i.type);
  }

  async check(body: AgentRequest): Promise<void> {
    const req = parseAttachRequest(body, 'check');
    const k = key(req.containerID, req.ifName);
    await this.locks.run(`att:${k}`, () => checkAttachment(this.deps(), req, this.index.get(k)));
  }

  /** CNI 1.1 GC: removes this network's attachments that the runtime no longer lists. */
  async gc(body: AgentRequest): Promise<void> {
    const network = body.config.name;
    // Refused before anything is removed: a misread list would remove every attachment.
    const valid = validAttachments(body.config);
    const errors: unknown[] = [];
    for (const s of [...this.index.values()]) {
      const k = key(s.containerID, s.ifName);
      if (s.network !== network || valid.has(k)) continue;
      try {
        await this.del({
          containerID: s.containerID,
          ifName: s.ifName,
          netns: '',
          args: {},
          path: body.path,
          config: body.config,
        });
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length === 0) {
      try {
        await gcIpam(this.d.runner, body.config, body.path);
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) {
      const first = errors[0];
      const msg = `GC incomplete: ${errors.map(errorMessage).join('; ')}`;
      throw isTransient(first)
        ? new TransientError(msg, '', { cause: first })
        : new Error(msg, { cause: first });
    }
  }

  async status(): Promise<void> {
    if (!this.d.ovsdbReady()) {
      throw new NotReadyError(`OVSDB at ${this.d.config.ovs.db} is not connected`);
    }
  }
}
