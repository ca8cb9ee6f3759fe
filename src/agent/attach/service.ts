import { CniCode, CniError } from '../../cni/errors.js';
import type { AgentRequest, CniResult } from '../../cni/types.js';
import { errorMessage, netnsFromPath } from '../../sys/index.js';
import { USERSPACE_DRIVERS } from '../../vf/index.js';
import type { CniHandler } from '../cni-server.js';
import { KeyedLock } from '../locks.js';
import type { ResolvedVf } from '../nic-cache.js';
import { Timeline } from '../timeline.js';
import { netnsExists, podHasLink } from '../podnet.js';
import type { AttachmentState } from '../state.js';
import { addAttachment, chooseMode, snapshotKnobs, type AddDeps, type IpSource } from './add.js';
import { parseAttachRequest, type AttachRequest } from './request.js';
import { PrevResultSchema } from './result.js';
import { ATTACHMENT_KEY, attachmentKey, takeDownPort } from './keys.js';
import { teardown } from './teardown.js';

export interface AttachmentServiceDeps extends Omit<AddDeps, 'ovnManaged' | 'ipSource'> {
  ipSource?: IpSource;
  /** OVSDB connection up (STATUS). */
  ovsdbReady(): boolean;
}

export type AttachmentEvent = { op: 'add' | 'del'; state: AttachmentState };

const key = attachmentKey;

/**
 * The CNI operations of the agent. Attachments live in state files (the truth, for crash
 * safety) and in an in-memory index (for the hot path). One operation at a time per VF and
 * per attachment, any number in parallel across VFs.
 */
export class AttachmentService implements Omit<CniHandler, 'state'> {
  private readonly index = new Map<string, AttachmentState>();
  private readonly locks = new KeyedLock();
  private ovnCheckedAt = 0;
  private ovnManagedCache = false;
  private readonly listeners: ((e: AttachmentEvent) => void)[] = [];

  constructor(private readonly d: AttachmentServiceDeps) {}

  onChange(fn: (e: AttachmentEvent) => void): void {
    this.listeners.push(fn);
  }

  private emit(e: AttachmentEvent): void {
    for (const l of this.listeners) l(e);
  }

  attachments(): AttachmentState[] {
    return [...this.index.values()];
  }

  /** Loads state files; undoes interrupted ADDs and attachments whose pod netns is gone. */
  async reconcile(): Promise<{ kept: number; cleaned: number; portsRemoved: number }> {
    let cleaned = 0;
    for (const s of await this.d.store.list()) {
      const k = key(s.containerID, s.ifName);
      const gone = !(await netnsExists(s.netns));
      if (!s.addCompleted || gone) {
        this.d.logger.info(
          {
            containerID: s.containerID,
            ifName: s.ifName,
            reason: s.addCompleted ? 'netns gone' : 'ADD never completed',
          },
          'cleaning attachment left from before start',
        );
        try {
          await this.locks.run(`vf:${s.vf.pci}`, async () => {
            await teardown(this.deps(), s);
            await this.d.store.remove(s.containerID, s.ifName);
          });
          cleaned++;
        } catch (err) {
          // One attachment that cannot be undone now must not keep the node without a CNI
          // server: its state stays, so its DEL (or the next start) tries again.
          this.d.logger.error(
            { containerID: s.containerID, ifName: s.ifName, err: errorMessage(err) },
            'could not clean attachment; kept for a later DEL or restart',
          );
          this.index.set(k, { ...s, addCompleted: false });
        }
        continue;
      }
      this.index.set(k, s);
    }
    // Pod ports we own with no attachment behind them (a crash between the OVS attach and the
    // state write cannot happen — the state is written first — but a lost state dir can).
    let portsRemoved = 0;
    const known = new Set([...this.index.values()].map((s) => s.representor));
    for (const p of await this.d.vswitch.listOwnedPorts()) {
      if (!p.externalIds[ATTACHMENT_KEY] || known.has(p.name)) continue;
      if (await takeDownPort(this.d, p.name)) portsRemoved++;
      this.d.logger.info({ port: p.name }, 'removed owned pod port without attachment state');
    }
    return { kept: this.index.size, cleaned, portsRemoved };
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

  private async ovnManaged(): Promise<boolean> {
    if (Date.now() - this.ovnCheckedAt > 10_000) {
      const ids = await this.d.vswitch.getExternalIds();
      this.ovnManagedCache = Boolean(ids['ovn-remote']);
      this.ovnCheckedAt = Date.now();
    }
    return this.ovnManagedCache;
  }

  async add(body: AgentRequest): Promise<CniResult> {
    const req = parseAttachRequest(body, 'add');
    if (!req.deviceId) {
      throw new CniError(
        CniCode.InvalidConfig,
        'invalid network config: deviceID: required (Multus passes it from the device plugin)',
      );
    }
    const timeline = new Timeline();
    const deviceId = req.deviceId;
    const k = key(req.containerID, req.ifName);
    // deviceID is a checked PCI address (NetConf schema, lowercased): the VF lock key. The VF
    // is read under its lock, since a DEL that held it may just have brought it home.
    return this.locks.runAll([`vf:${deviceId}`, `att:${k}`], async () => {
      const vf = await this.d.nics.resolveVf(deviceId);
      timeline.mark('resolve');
      const existing = this.index.get(k) ?? (await this.d.store.read(req.containerID, req.ifName));
      if (existing?.addCompleted && existing.vf.pci === vf.pci && existing.result !== null) {
        // A runtime retrying an ADD that already succeeded gets the same answer.
        this.d.logger.info({ containerID: req.containerID }, 'repeated ADD answered from state');
        return existing.result as unknown as CniResult;
      }
      if (existing) {
        await teardown(this.deps(), existing);
        await this.d.store.remove(existing.containerID, existing.ifName);
        this.index.delete(k);
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
      if (await netnsExists(other.netns)) {
        throw new CniError(
          CniCode.InvalidConfig,
          `VF ${vf.pci} is in use by pod ${other.pod.namespace}/${other.pod.name} (container ${other.containerID})`,
        );
      }
      // Its pod is gone but its DEL has not come: undo it now (we hold the VF lock), or its
      // port would block ours and its late DEL would restore settings onto our VF.
      this.d.logger.info(
        { containerID: other.containerID, vf: vf.pci },
        'cleaning a stale attachment of this VF',
      );
      await teardown(this.deps(), other);
      await this.d.store.remove(other.containerID, other.ifName);
      this.index.delete(key(other.containerID, other.ifName));
      vf = await this.d.nics.resolveVf(vf.pci);
    }
    const mode = chooseMode(req, vf);
    const netdevless = vf.driver !== null && USERSPACE_DRIVERS.has(vf.driver);
    if (!netdevless && vf.netdev === null) {
      throw new CniError(
        CniCode.InvalidConfig,
        `VF ${vf.pci} has no netdev on this host (driver ${vf.driver ?? 'none'}): in use by another network namespace, or unbound`,
      );
    }
    const representor = mode === 'offload' ? await this.d.nics.representor(vf) : null;
    const facts = vf.netdev ? await this.d.nics.netdevFacts(vf.pci, vf.netdev) : null;
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
      bridge: mode === 'offload' ? (req.conf.bridge ?? this.d.config.ovs.bridge) : null,
      ifaceId: mode === 'offload' ? req.ifaceId : null,
      knobsBefore: null,
      ipam: req.conf.ipam ? { config: req.raw, cniArgs: req.cniArgs, path: req.path } : null,
      steps: [],
      addCompleted: false,
      createdAt: new Date().toISOString(),
      result: null,
    };
    if (mode === 'legacy') s.knobsBefore = await snapshotKnobs(this.addDeps(), vf);
    // The state file goes to disk before the first host mutation.
    await this.d.store.write(s);
    t.mark('state');
    this.index.set(key(s.containerID, s.ifName), s);
    try {
      const result = await addAttachment(this.addDeps(), req, vf, s, t);
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
        await teardown(this.deps(), s);
        await this.d.store.remove(s.containerID, s.ifName);
        this.index.delete(key(s.containerID, s.ifName));
      } catch (undoErr) {
        // The state file stays: DEL or the next start finishes the undo.
        this.d.logger.error(
          { containerID: req.containerID, err: errorMessage(undoErr) },
          'undo of failed ADD incomplete',
        );
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
    };
  }

  async del(body: AgentRequest): Promise<void> {
    const req = parseAttachRequest(body, 'del');
    const k = key(req.containerID, req.ifName);
    const s = this.index.get(k) ?? (await this.d.store.read(req.containerID, req.ifName));
    if (!s) {
      // Nothing recorded: DEL still succeeds (CNI: missing resources are not an error), and
      // a pod port of ours for this attachment is removed if one is left.
      await this.locks.run(`att:${k}`, () => this.removeOrphanPort(k));
      return;
    }
    await this.locks.runAll([`vf:${s.vf.pci}`, `att:${k}`], async () => {
      // Read again under the locks: an ADD may have cleaned this stale attachment meanwhile,
      // and its VF may now serve another pod.
      const current = this.index.get(k) ?? (await this.d.store.read(req.containerID, req.ifName));
      if (!current) return;
      await teardown(this.deps(), current, req.netns);
      await this.d.store.remove(current.containerID, current.ifName);
      this.index.delete(k);
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
  }

  private async removeOrphanPort(k: string): Promise<void> {
    const ifaces = await this.d.vswitch.findInterfacesByExternalId(ATTACHMENT_KEY, k);
    for (const i of ifaces) await takeDownPort(this.d, i.name);
  }

  /**
   * CNI CHECK: the interface the runtime's prevResult says we created is in the pod with
   * the addresses prevResult lists for it, and (offload) its representor is on the bridge
   * with the right iface-id.
   */
  async check(body: AgentRequest): Promise<void> {
    const req = parseAttachRequest(body, 'check');
    const s = this.index.get(key(req.containerID, req.ifName));
    const fail = (msg: string) =>
      new CniError(CniCode.TryAgainLater, `CHECK ${req.containerID}/${req.ifName}: ${msg}`);
    if (!s?.addCompleted) throw fail('no completed attachment on this node');
    const prev = PrevResultSchema.safeParse(req.conf.prevResult);
    if (!prev.success)
      throw new CniError(CniCode.InvalidConfig, `CHECK: prevResult is not a CNI result`);
    const index = (prev.data.interfaces ?? []).findIndex(
      (i) => i.name === req.ifName && (i.sandbox === undefined || i.sandbox === req.netns),
    );
    if (index < 0) throw fail(`prevResult has no interface ${req.ifName} in ${req.netns}`);
    if (s.vf.originalName !== null) {
      const link = await podHasLink(this.d.ip, req.netns, req.ifName);
      if (!link) throw fail(`${req.ifName} is missing from ${req.netns}`);
      const want = (prev.data.ips ?? []).filter((a) => a.interface === index);
      if (want.length > 0) {
        const r = await this.d.ip.run(netnsFromPath(req.netns), [
          '-j',
          'addr',
          'show',
          'dev',
          req.ifName,
        ]);
        for (const a of want) {
          const [addr] = a.address.split('/');
          if (addr && !r.stdout.includes(`"${addr}"`))
            throw fail(`${req.ifName} lacks address ${a.address}`);
        }
      }
    }
    if (s.mode === 'offload' && s.representor) {
      const [iface] = await this.d.vswitch.findInterfacesByExternalId(
        ATTACHMENT_KEY,
        key(req.containerID, req.ifName),
      );
      if (!iface || iface.name !== s.representor)
        throw fail(`representor ${s.representor} is not on OVS for this attachment`);
      if (iface.bridge !== s.bridge) {
        throw fail(
          `representor ${s.representor} is on ${iface.bridge ?? 'no bridge'}, expected ${s.bridge ?? '?'}`,
        );
      }
      if (iface.externalIds['iface-id'] !== s.ifaceId) {
        throw fail(
          `representor ${s.representor} has iface-id ${iface.externalIds['iface-id'] ?? 'none'}, expected ${s.ifaceId ?? '?'}`,
        );
      }
    }
  }

  /** CNI 1.1 GC: removes this network's attachments that the runtime no longer lists. */
  async gc(body: AgentRequest): Promise<void> {
    const network = body.config.name;
    const raw = body.config['cni.dev/valid-attachments'];
    const valid = new Set(
      (Array.isArray(raw) ? raw : []).flatMap((a: unknown) => {
        const o = a as { containerID?: unknown; ifname?: unknown };
        return typeof o.containerID === 'string' && typeof o.ifname === 'string'
          ? [key(o.containerID, o.ifname)]
          : [];
      }),
    );
    const errors: string[] = [];
    for (const s of [...this.index.values()]) {
      const k = key(s.containerID, s.ifName);
      if (s.network !== network || valid.has(k)) continue;
      try {
        await this.del({
          containerID: s.containerID,
          ifName: s.ifName,
          netns: s.netns,
          args: {},
          path: body.path,
          config: body.config,
        });
      } catch (err) {
        errors.push(`${k}: ${errorMessage(err)}`);
      }
    }
    if (errors.length > 0)
      throw new CniError(CniCode.TryAgainLater, `GC incomplete: ${errors.join('; ')}`);
  }

  async status(): Promise<void> {
    if (!this.d.ovsdbReady()) {
      throw new CniError(CniCode.NotAvailable, `OVSDB at ${this.d.config.ovs.db} is not connected`);
    }
  }
}
