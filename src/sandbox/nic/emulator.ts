import * as path from 'node:path';
import {
  errorMessage,
  files,
  fromRoutingId,
  formatPciAddress,
  Ip,
  sleep,
  type CommandRunner,
  type Watcher,
} from '../../sys/index.js';
import { nicNames } from '../names.js';
import { runDevlink, type DevlinkModel } from './devlink.js';
import { runEthtool, type EthtoolModel } from './ethtool.js';
import { IDENTITIES, type NicIdentity } from './identity.js';
import { runIpVf, vfinfoJson, vfinfoText, type IpVfModel } from './ipvf.js';
import { listLinks, type LinkTable } from './links.js';
import type {
  CallRecord,
  Fault,
  NicDaemonConfig,
  NicStateView,
  Request,
  ToolResult,
  VfKnobs,
} from './protocol.js';
import { SysTree } from './tree.js';

interface VfRec {
  index: number;
  pci: string;
  iommuGroup: number;
  driver: string | null;
  /** ifindex of the VF's partner end (representor or eswitch-internal end) in the host netns. */
  peerIfindex: number;
  knobs: VfKnobs;
  uverbs: number | null;
}

interface PfRec {
  index: number;
  pci: string;
  uplink: string;
  wire: string;
  bridge: string;
  totalVfs: number;
  numa: number;
  mode: 'legacy' | 'switchdev';
  vfs: VfRec[];
  /** Last sriov_numvfs value acted on (the file is compared against it). */
  numVfs: number;
  /** hw-tc-offload per netdev ifindex (uplink and representors). */
  tcOffload: Map<number, boolean>;
}

const DEFAULT_KNOBS: VfKnobs = {
  mac: '00:00:00:00:00:00',
  vlan: 0,
  qos: 0,
  proto: '802.1Q',
  spoofchk: true,
  trust: false,
  linkState: 'auto',
  minTxRate: 0,
  maxTxRate: 0,
};

/**
 * The emulated switchdev NIC: owns the sysfs tree and the veth pairs standing for VFs and
 * representors, reacts to the sysfs writes the kernel reacts to, and answers the devlink/ip/
 * ethtool stand-ins. Every operation runs one at a time (a queue), like the RTNL lock.
 */
export class NicEmulator {
  readonly identity: NicIdentity;
  readonly tree: SysTree;
  private readonly ip: Ip;
  private readonly host: { name: string };
  private readonly limbo: { name: string };
  private readonly pfs: PfRec[] = [];
  private readonly calls: CallRecord[] = [];
  private fault: Fault = {};
  private nextIommuGroup = 40;
  private nextUverbs = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private watchers: Watcher[] = [];
  private monitor: { kill(): void } | null = null;
  private syncTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    readonly cfg: NicDaemonConfig,
    private readonly runner: CommandRunner,
  ) {
    this.identity = IDENTITIES[cfg.identity];
    this.tree = new SysTree(cfg.sysfsRoot, cfg.liveSys);
    this.ip = new Ip(runner, cfg.realIp);
    this.host = { name: cfg.hostNetns };
    this.limbo = { name: cfg.limboNetns };
  }

  /** Runs fn after every earlier operation (one at a time, like rtnl_lock). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private record(
    tool: CallRecord['tool'],
    argv: readonly string[],
    code: number,
    note?: string,
  ): void {
    const rec: CallRecord = {
      ts: Date.now(),
      tool,
      argv: [...argv],
      code,
      ...(note ? { note } : {}),
    };
    this.calls.push(rec);
    void files
      .writeText(
        path.join(this.cfg.dir, 'calls.jsonl'),
        this.calls.map((c) => JSON.stringify(c)).join('\n') + '\n',
      )
      .catch(() => undefined);
  }

  private pfPci(index: number): string {
    return formatPciAddress(fromRoutingId(0, (this.cfg.bus << 8) | index));
  }

  /** VF routing ID = PF RID + offset + stride·n; each PF's VFs follow the previous PF's. */
  private vfPci(pf: PfRec, n: number): string {
    const pfRid = (this.cfg.bus << 8) | pf.index;
    const offset = this.identity.vfOffset - pf.index + pf.index * pf.totalVfs;
    return formatPciAddress(fromRoutingId(0, pfRid + offset + n * this.identity.vfStride));
  }

  private async hostIp(args: readonly string[]) {
    return this.ip.run(this.host, args);
  }

  async start(): Promise<void> {
    await files.mkdir(this.cfg.dir);
    await this.tree.init([this.identity.pfDriver, this.identity.vfDriver]);
    await files.writeText(path.join(this.tree.sys, 'bus/pci/drivers_probe'), '');
    await files.writeText(
      path.join(this.tree.sys, 'bus/pci/drivers_autoprobe'),
      this.cfg.autoprobe ? '1\n' : '0\n',
    );
    for (const [index, spec] of this.cfg.pfs.entries()) {
      const pf: PfRec = {
        index,
        pci: this.pfPci(index),
        uplink: nicNames.uplink(this.cfg.id, index),
        wire: nicNames.wire(this.cfg.id, index),
        bridge: nicNames.legacyBridge(this.cfg.id, index),
        totalVfs: spec.totalVfs,
        numa: spec.numa,
        mode: this.cfg.eswitchMode,
        vfs: [],
        numVfs: 0,
        tcOffload: new Map(),
      };
      this.pfs.push(pf);
      await this.tree.createFunction(pf.pci, {
        vendor: this.identity.vendor,
        device: this.identity.pfDevice,
        numa: pf.numa,
        iommuGroup: this.nextIommuGroup++,
      });
      await this.tree.writeAttr(pf.pci, 'sriov_totalvfs', String(pf.totalVfs));
      await this.tree.writeAttr(pf.pci, 'sriov_numvfs', '0');
      await this.tree.writeAttr(
        pf.pci,
        'sriov_offset',
        String(this.identity.vfOffset - pf.index + pf.index * pf.totalVfs),
      );
      await this.tree.writeAttr(pf.pci, 'sriov_stride', String(this.identity.vfStride));
      await this.tree.writeAttr(pf.pci, 'sriov_vf_device', this.identity.vfDevice);
      await this.tree.writeAttr(pf.pci, 'sriov_drivers_autoprobe', this.cfg.autoprobe ? '1' : '0');
      await this.tree.setDriver(pf.pci, this.identity.pfDriver);
      // The uplink and the "wire" behind the physical port: a veth pair, both up, so the
      // uplink has carrier until a test pulls the cable (`ip link set <wire> down`).
      await this.ip.batch(this.host, [
        ['link', 'add', pf.uplink, 'type', 'veth', 'peer', 'name', pf.wire],
        ['link', 'add', pf.bridge, 'type', 'bridge'],
        ['link', 'set', pf.bridge, 'up'],
        ['link', 'set', pf.wire, 'up'],
        ['link', 'set', pf.uplink, 'up'],
      ]);
      if (spec.numVfs > 0) await this.createVfs(pf, spec.numVfs);
    }
    await this.syncNow();
    this.startWatching();
  }

  /**
   * A NIC computes checksums in hardware; a veth leaves them to "the device" (partial
   * checksums). OVS's userspace datapath reads packets with AF_PACKET and forwards them as
   * they are, so TCP between pods would carry bad checksums and stall: turn transmit
   * checksum offload off on both ends, as a real VF/representor pair behaves.
   */
  private async hardwareChecksums(devs: readonly string[]): Promise<void> {
    if (!this.cfg.realEthtool) return;
    for (const dev of devs) {
      await this.runner
        .run(
          [
            'nsenter',
            `--net=/var/run/netns/${this.host.name}`,
            this.cfg.realEthtool,
            '-K',
            dev,
            'tx',
            'off',
          ],
          { okExitCodes: [1, 75] },
        )
        .catch(() => undefined);
    }
  }

  // ---- VF creation and removal (sriov_numvfs) ----

  private async createVfs(pf: PfRec, n: number): Promise<void> {
    // The attribute is final before any VF appears: the kernel never rewrites it afterwards,
    // and a late rewrite here would clobber a write made once the VFs were seen.
    await this.tree.writeAttr(pf.pci, 'sriov_numvfs', String(n));
    const batch: string[][] = [];
    const newVfs: { rec: Omit<VfRec, 'peerIfindex'>; vfName: string; peerName: string }[] = [];
    for (let m = 0; m < n; m++) {
      const pci = this.vfPci(pf, m);
      const iommuGroup = this.nextIommuGroup++;
      await this.tree.createFunction(pci, {
        vendor: this.identity.vendor,
        device: this.identity.vfDevice,
        numa: pf.numa,
        iommuGroup,
      });
      await this.tree.linkVf(pf.pci, m, pci);
      const vfName = nicNames.vf(this.cfg.id, pf.index, m);
      const peerName =
        pf.mode === 'switchdev'
          ? nicNames.representor(this.cfg.id, pf.index, m)
          : nicNames.legacyPeer(this.cfg.id, pf.index, m);
      batch.push(['link', 'add', vfName, 'type', 'veth', 'peer', 'name', peerName]);
      if (pf.mode === 'legacy') {
        batch.push(['link', 'set', peerName, 'master', pf.bridge], ['link', 'set', peerName, 'up']);
      }
      const driver = this.cfg.autoprobe ? this.identity.vfDriver : null;
      const uverbs = this.identity.rdma ? this.nextUverbs++ : null;
      newVfs.push({
        rec: { index: m, pci, iommuGroup, driver, knobs: { ...DEFAULT_KNOBS }, uverbs },
        vfName,
        peerName,
      });
    }
    await this.ip.batch(this.host, batch);
    await this.hardwareChecksums(newVfs.flatMap((v) => [v.vfName, v.peerName]));
    const links = await listLinks(this.ip, this.host);
    const toLimbo: string[][] = [];
    for (const v of newVfs) {
      const peer = links.byName.get(v.peerName);
      if (!peer) throw new Error(`veth ${v.peerName} missing after creation`);
      pf.vfs.push({ ...v.rec, peerIfindex: peer.ifindex });
      await this.tree.setDriver(v.rec.pci, v.rec.driver);
      // A VF probed by its driver at creation has its RDMA device from the start.
      if (v.rec.driver === this.identity.vfDriver) await this.tree.setRdma(v.rec.pci, v.rec.uverbs);
      if (v.rec.driver === null) toLimbo.push(['link', 'set', v.vfName, 'netns', this.limbo.name]);
    }
    if (toLimbo.length > 0) await this.ip.batch(this.host, toLimbo);
    pf.numVfs = n;
  }

  private async removeVfs(pf: PfRec): Promise<void> {
    await this.tree.writeAttr(pf.pci, 'sriov_numvfs', '0');
    const links = await listLinks(this.ip, this.host);
    const del: string[][] = [];
    for (const vf of pf.vfs) {
      const peer = links.byIndex.get(vf.peerIfindex);
      if (peer) del.push(['link', 'del', peer.ifname]);
      pf.tcOffload.delete(vf.peerIfindex);
    }
    if (del.length > 0) await this.ip.batch(this.host, del);
    for (const vf of pf.vfs) {
      await this.tree.unlinkVf(pf.pci, vf.index);
      await this.tree.removeFunction(vf.pci, vf.iommuGroup);
    }
    pf.vfs = [];
    pf.numVfs = 0;
  }

  /** The kernel's sriov_numvfs_store(): 0→N creates, N→0 removes, N→M (both non-zero) is EBUSY. */
  private async onNumVfsWrite(pf: PfRec): Promise<void> {
    const text = (await this.tree.readAttr(pf.pci, 'sriov_numvfs')) ?? '';
    // writeFile truncates before it writes: an empty file is a write in flight, not a value
    // (the kernel's store sees the whole write at once).
    if (text === String(pf.numVfs) || text === '') return;
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    const argv = ['write', `${pf.pci}/sriov_numvfs`, text];
    let refusal: string | null = null;
    if (!Number.isInteger(n)) refusal = 'EINVAL';
    else if (n > pf.totalVfs) refusal = 'ERANGE';
    else if (n !== 0 && pf.numVfs !== 0) refusal = 'EBUSY';
    if (refusal !== null) {
      await this.tree.writeAttr(pf.pci, 'sriov_numvfs', String(pf.numVfs));
      this.record('sysfs', argv, 1, `refused: ${refusal} (numvfs stays ${pf.numVfs})`);
      return;
    }
    if (n === 0) await this.removeVfs(pf);
    else await this.createVfs(pf, n);
    this.record('sysfs', argv, 0);
    await this.syncNow();
  }

  // ---- driver bind/unbind ----

  private findVf(pci: string): { pf: PfRec; vf: VfRec } | undefined {
    for (const pf of this.pfs) {
      const vf = pf.vfs.find((v) => v.pci === pci);
      if (vf) return { pf, vf };
    }
    return undefined;
  }

  private async onDriverFile(driver: string, file: 'bind' | 'unbind' | 'probe'): Promise<void> {
    const p =
      file === 'probe'
        ? path.join(this.tree.sys, 'bus/pci/drivers_probe')
        : path.join(this.tree.sys, `bus/pci/drivers/${driver}/${file}`);
    const text = ((await files.readTextOrNull(p)) ?? '').trim();
    if (text === '') return;
    await files.writeText(p, '');
    const argv = ['write', file === 'probe' ? 'drivers_probe' : `drivers/${driver}/${file}`, text];
    const hit = this.findVf(text);
    if (!hit) {
      this.record('sysfs', argv, 1, 'refused: ENODEV (not an emulated VF)');
      return;
    }
    const { vf } = hit;
    if (file === 'unbind') {
      if (vf.driver !== driver) {
        this.record('sysfs', argv, 1, 'refused: ENODEV (not bound to this driver)');
        return;
      }
      await this.unbind(vf);
    } else {
      const override = (await this.tree.readAttr(vf.pci, 'driver_override')) ?? '(null)';
      const want =
        file === 'probe'
          ? override !== '(null)' && override !== ''
            ? override
            : this.identity.vfDriver
          : driver;
      if (vf.driver !== null) {
        this.record('sysfs', argv, 1, 'refused: EBUSY (already bound)');
        return;
      }
      if (override !== '(null)' && override !== '' && override !== want) {
        this.record('sysfs', argv, 1, `refused: driver_override is ${override}`);
        return;
      }
      if (want !== this.identity.vfDriver && want !== 'vfio-pci') {
        this.record(
          'sysfs',
          argv,
          1,
          `refused: ${want} does not drive ${this.identity.vendor}:${this.identity.vfDevice}`,
        );
        return;
      }
      await this.bind(vf, want);
    }
    this.record('sysfs', argv, 0);
    await this.syncNow();
  }

  /** Where the VF end of a pair is now: the host, a pod netns, or limbo. */
  private async locateVfEnd(
    vf: VfRec,
    links: LinkTable,
  ): Promise<{ ns: { name: string }; ifname: string } | null> {
    const peer = links.byIndex.get(vf.peerIfindex);
    if (!peer) return null;
    const inHost = links.byPeerName.get(peer.ifname);
    if (inHost) return { ns: this.host, ifname: inHost.ifname };
    const ns = await this.runner.run([this.cfg.realIp, 'netns', 'list']);
    const names = ns.stdout
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter((n) => n.includes(`-${this.cfg.id}`) && n !== this.host.name);
    for (const name of names) {
      const t = await listLinks(this.ip, { name }).catch(() => null);
      const l = t?.links.find((x) => x.link_index === vf.peerIfindex);
      if (l) return { ns: { name }, ifname: l.ifname };
    }
    return null;
  }

  private async unbind(vf: VfRec): Promise<void> {
    const links = await listLinks(this.ip, this.host);
    const where = await this.locateVfEnd(vf, links);
    if (where && where.ns.name !== this.limbo.name) {
      // Unbinding destroys the netdev wherever it is; hide it so nothing can use it.
      await this.ip.run(where.ns, ['link', 'set', where.ifname, 'down']);
      await this.ip.run(where.ns, ['link', 'set', where.ifname, 'netns', this.limbo.name]);
    }
    vf.driver = null;
    await this.tree.setDriver(vf.pci, null);
    await this.tree.setRdma(vf.pci, null);
  }

  private async bind(vf: VfRec, driver: string): Promise<void> {
    vf.driver = driver;
    await this.tree.setDriver(vf.pci, driver);
    if (driver === 'vfio-pci') return;
    await this.tree.setRdma(vf.pci, vf.uverbs);
    // A freshly probed netdev gets the driver's name; ours is the VF's default name.
    const hit = this.findVf(vf.pci);
    const limboLinks = await listLinks(this.ip, this.limbo);
    const hostLinks = await listLinks(this.ip, this.host);
    const end = limboLinks.links.find((l) => l.link_index === vf.peerIfindex);
    if (!end || !hit) return;
    const want = nicNames.vf(this.cfg.id, hit.pf.index, vf.index);
    const name = hostLinks.byName.has(want) ? `tmp${vf.peerIfindex}` : want;
    await this.ip.run(this.limbo, [
      'link',
      'set',
      end.ifname,
      'netns',
      this.host.name,
      'name',
      name,
    ]);
  }

  // ---- eswitch mode (devlink) ----

  private async setMode(pci: string, mode: 'legacy' | 'switchdev'): Promise<string | null> {
    const pf = this.pfs.find((p) => p.pci === pci);
    if (!pf) return 'No such device';
    if (pf.mode === mode) return null;
    const vfsExist = pf.vfs.length > 0;
    const vfsBound = pf.vfs.some((v) => v.driver !== null && v.driver !== 'vfio-pci');
    const f = this.fault.refuseMode;
    if (f && f.mode === mode) {
      const hit =
        f.when === 'always' ||
        (f.when === 'vfsExist' && vfsExist) ||
        (f.when === 'vfsBound' && vfsBound) ||
        (f.when === 'noVfs' && !vfsExist);
      if (hit) {
        if (f.times !== undefined) {
          if (f.times <= 1) delete this.fault.refuseMode;
          else f.times--;
        }
        return (
          f.message ??
          `${this.identity.pfDriver}: firmware refused eswitch mode ${mode} in this state`
        );
      }
    }
    const rule = this.identity.modeChangeRefusedWhen;
    if ((rule === 'vfsExist' && vfsExist) || (rule === 'vfsBound' && vfsBound))
      return this.identity.refusalMessage;

    const links = await listLinks(this.ip, this.host);
    const batch: string[][] = [];
    for (const vf of pf.vfs) {
      const peer = links.byIndex.get(vf.peerIfindex);
      if (!peer) continue;
      if (mode === 'switchdev') {
        batch.push(
          ['link', 'set', peer.ifname, 'down'],
          ['link', 'set', peer.ifname, 'nomaster'],
          [
            'link',
            'set',
            peer.ifname,
            'name',
            nicNames.representor(this.cfg.id, pf.index, vf.index),
          ],
        );
      } else {
        const name = nicNames.legacyPeer(this.cfg.id, pf.index, vf.index);
        batch.push(
          ['link', 'set', peer.ifname, 'down'],
          ['link', 'set', peer.ifname, 'name', name],
          ['link', 'set', name, 'master', pf.bridge],
          ['link', 'set', name, 'up'],
        );
      }
      pf.tcOffload.delete(vf.peerIfindex);
    }
    if (batch.length > 0) await this.ip.batch(this.host, batch);
    pf.mode = mode;
    await this.syncNow();
    return null;
  }

  // ---- pod netns destruction: a real VF comes home, a veth pair dies ----

  private async destroyPodNetns(netns: string): Promise<string[]> {
    if (!netns.includes(`-${this.cfg.id}`))
      throw new Error(`${netns} is not a netns of sandbox ${this.cfg.id}`);
    const podLinks = await listLinks(this.ip, { name: netns }).catch(() => null);
    const inPod: {
      pf: PfRec;
      vf: VfRec;
      name: string;
      mac: string | undefined;
      mtu: number | undefined;
    }[] = [];
    for (const pf of this.pfs) {
      for (const vf of pf.vfs) {
        const l = podLinks?.links.find((x) => x.link_index === vf.peerIfindex);
        if (l) inPod.push({ pf, vf, name: l.ifname, mac: l.address, mtu: l.mtu });
      }
    }
    await this.runner.run([this.cfg.realIp, 'netns', 'delete', netns]);
    // Netns teardown runs in a kernel workqueue: wait until the pairs are really gone.
    for (let i = 0; i < 200; i++) {
      const links = await listLinks(this.ip, this.host);
      if (inPod.every((p) => !links.byIndex.has(p.vf.peerIfindex))) break;
      await sleep(25);
    }
    const returned: string[] = [];
    for (const p of inPod) {
      const host = await listLinks(this.ip, this.host);
      const peerName =
        p.pf.mode === 'switchdev'
          ? nicNames.representor(this.cfg.id, p.pf.index, p.vf.index)
          : nicNames.legacyPeer(this.cfg.id, p.pf.index, p.vf.index);
      const tmp = `oret${p.vf.peerIfindex}`.slice(0, 15);
      await this.hostIp(['link', 'add', tmp, 'type', 'veth', 'peer', 'name', peerName]);
      const after = await listLinks(this.ip, this.host);
      const end = after.byName.get(tmp);
      const peer = after.byName.get(peerName);
      if (!end || !peer) throw new Error(`re-create VF ${p.vf.pci}: veth missing`);
      // default_device_exit_net(): keep the in-netns name unless taken, else "dev<ifindex>".
      const name = host.byName.has(p.name) ? `dev${end.ifindex}` : p.name;
      const setup: string[][] = [['link', 'set', tmp, 'name', name]];
      if (p.mac) setup.push(['link', 'set', name, 'address', p.mac]);
      if (p.mtu) setup.push(['link', 'set', name, 'mtu', String(p.mtu)]);
      if (p.pf.mode === 'legacy')
        setup.push(
          ['link', 'set', peerName, 'master', p.pf.bridge],
          ['link', 'set', peerName, 'up'],
        );
      await this.ip.batch(this.host, setup);
      await this.hardwareChecksums([name, peerName]);
      p.vf.peerIfindex = peer.ifindex;
      returned.push(name);
    }
    await this.syncNow();
    return returned;
  }

  // ---- tree sync: make net/ entries match the live links ----

  private scheduleSync(): void {
    if (this.closed || this.syncTimer) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      void this.serial(() => this.syncNow()).catch((err: unknown) =>
        console.error(`sync: ${errorMessage(err)}`),
      );
    }, 15);
  }

  private async syncNow(): Promise<void> {
    const links = await listLinks(this.ip, this.host);
    for (const pf of this.pfs) {
      const desired = new Map<
        string,
        Map<string, { physPortName?: string; physSwitchId?: string }>
      >();
      const sw = pf.mode === 'switchdev' ? { physSwitchId: this.cfg.switchId } : {};
      const pfNet = new Map<string, { physPortName?: string; physSwitchId?: string }>();
      pfNet.set(pf.uplink, { physPortName: `p${pf.index}`, ...sw });
      for (const vf of pf.vfs) {
        const peer = links.byIndex.get(vf.peerIfindex);
        const vfNet = new Map<string, { physPortName?: string; physSwitchId?: string }>();
        if (peer) {
          if (pf.mode === 'switchdev')
            pfNet.set(peer.ifname, { physPortName: `pf${pf.index}vf${vf.index}`, ...sw });
          const end = links.byPeerName.get(peer.ifname);
          if (end && vf.driver !== null && vf.driver !== 'vfio-pci') vfNet.set(end.ifname, {});
        }
        desired.set(vf.pci, vfNet);
      }
      desired.set(pf.pci, pfNet);
      for (const [bdf, want] of desired) {
        const have = await this.tree.listNetdevs(bdf);
        for (const name of have) if (!want.has(name)) await this.tree.removeNetdev(bdf, name);
        for (const [name, attrs] of want) {
          if (!have.includes(name)) await this.tree.addNetdev(bdf, name, attrs);
          else await this.tree.setNetdevAttrs(bdf, name, attrs);
        }
      }
    }
  }

  private startWatching(): void {
    for (const pf of this.pfs) {
      const dir = path.join(this.tree.sys, this.tree.devRel(pf.pci));
      this.watchers.push(
        files.watch(dir, (f) => {
          if (f === null || f === 'sriov_numvfs')
            void this.serial(() => this.onNumVfsWrite(pf)).catch(logErr);
        }),
      );
    }
    const drivers = new Set([this.identity.pfDriver, this.identity.vfDriver, 'vfio-pci']);
    for (const drv of drivers) {
      const dir = path.join(this.tree.sys, `bus/pci/drivers/${drv}`);
      this.watchers.push(
        files.watch(dir, (f) => {
          if (f === 'bind' || f === 'unbind' || f === null) {
            void this.serial(async () => {
              await this.onDriverFile(drv, 'unbind');
              await this.onDriverFile(drv, 'bind');
            }).catch(logErr);
          }
        }),
      );
    }
    this.watchers.push(
      files.watch(path.join(this.tree.sys, 'bus/pci'), (f) => {
        if (f === 'drivers_probe')
          void this.serial(() => this.onDriverFile('', 'probe')).catch(logErr);
      }),
    );
    // inotify events can coalesce or be missed: a slow poll catches what they miss.
    this.pollTimer = setInterval(() => {
      void this.serial(async () => {
        for (const pf of this.pfs) await this.onNumVfsWrite(pf);
        for (const drv of drivers) {
          await this.onDriverFile(drv, 'unbind');
          await this.onDriverFile(drv, 'bind');
        }
        await this.onDriverFile('', 'probe');
      }).catch(logErr);
    }, 250);
    const mon = this.runner.stream(this.ip.argv(this.host, ['-o', 'monitor', 'link']), () =>
      this.scheduleSync(),
    );
    this.monitor = mon;
  }

  // ---- models for the stand-ins ----

  private devlinkModel(links: LinkTable): DevlinkModel {
    return {
      pfs: () =>
        this.pfs.map((pf) => ({
          pci: pf.pci,
          index: pf.index,
          mode: pf.mode,
          uplink: pf.uplink,
          reps:
            pf.mode === 'switchdev'
              ? pf.vfs.flatMap((vf) => {
                  const peer = links.byIndex.get(vf.peerIfindex);
                  return peer ? [{ vf: vf.index, netdev: peer.ifname, mac: vf.knobs.mac }] : [];
                })
              : [],
        })),
      setMode: (pci, mode) => this.setMode(pci, mode),
      garbage: () => this.fault.devlinkGarbage,
    };
  }

  private ipModel(): IpVfModel {
    return {
      pf: (netdev) => {
        const pf = this.pfs.find((p) => p.uplink === netdev);
        return pf ? { mode: pf.mode, numVfs: pf.numVfs } : undefined;
      },
      knobs: (netdev, vf) => this.pfs.find((p) => p.uplink === netdev)?.vfs[vf]?.knobs,
      apply: async (netdev, n, next) => {
        const pf = this.pfs.find((p) => p.uplink === netdev);
        const vf = pf?.vfs[n];
        if (!pf || !vf) return;
        const prev = vf.knobs;
        vf.knobs = next;
        // link_state disable forces the VF's link down: the eswitch side of its pair goes down.
        if (pf.mode === 'legacy' && prev.linkState !== next.linkState) {
          const links = await listLinks(this.ip, this.host);
          const peer = links.byIndex.get(vf.peerIfindex);
          if (peer)
            await this.hostIp([
              'link',
              'set',
              peer.ifname,
              next.linkState === 'disable' ? 'down' : 'up',
            ]);
        }
      },
    };
  }

  private ethtoolModel(links: LinkTable): EthtoolModel {
    const find = (name: string) => {
      const l = links.byName.get(name);
      if (!l) return undefined;
      for (const pf of this.pfs) {
        if (pf.uplink === name) return { pf, ifindex: l.ifindex, driver: this.identity.pfDriver };
        if (pf.mode === 'switchdev' && pf.vfs.some((v) => v.peerIfindex === l.ifindex)) {
          return { pf, ifindex: l.ifindex, driver: this.identity.repDriver };
        }
      }
      return undefined;
    };
    return {
      netdev: (name) => {
        const f = find(name);
        return f
          ? {
              driver: f.driver,
              busInfo: f.pf.pci,
              hwTcOffload: f.pf.tcOffload.get(f.ifindex) ?? false,
            }
          : undefined;
      },
      setHwTcOffload: (name, on) => {
        const f = find(name);
        if (!f) return false;
        const refuse = this.fault.refuseHwTcOffload ?? [];
        if (on && (refuse.includes('*') || refuse.includes(name))) return false;
        f.pf.tcOffload.set(f.ifindex, on);
        return true;
      },
    };
  }

  view(): NicStateView {
    return {
      identity: this.identity.name,
      pfs: this.pfs.map((pf) => ({
        index: pf.index,
        pci: pf.pci,
        netdev: pf.uplink,
        wire: pf.wire,
        mode: pf.mode,
        numVfs: pf.numVfs,
        totalVfs: pf.totalVfs,
        vfs: [],
      })),
    };
  }

  private async fullView(): Promise<NicStateView> {
    const links = await listLinks(this.ip, this.host);
    const v = this.view();
    for (const [i, pf] of this.pfs.entries()) {
      const pv = v.pfs[i];
      if (!pv) continue;
      pv.vfs = pf.vfs.map((vf) => {
        const peer = links.byIndex.get(vf.peerIfindex);
        const end = peer ? links.byPeerName.get(peer.ifname) : undefined;
        return {
          index: vf.index,
          pci: vf.pci,
          driver: vf.driver,
          netdev: end && vf.driver !== null && vf.driver !== 'vfio-pci' ? end.ifname : null,
          representor: pf.mode === 'switchdev' && peer ? peer.ifname : null,
          knobs: { ...vf.knobs },
        };
      });
    }
    return v;
  }

  // ---- requests ----

  async handle(req: Request): Promise<unknown> {
    switch (req.op) {
      case 'ping':
        return 'pong';
      case 'sync':
        return this.serial(async () => {
          for (const pf of this.pfs) await this.onNumVfsWrite(pf);
          await this.syncNow();
          return true;
        });
      case 'state':
        return this.serial(() => this.fullView());
      case 'calls':
        return this.calls;
      case 'clearCalls':
        this.calls.length = 0;
        return true;
      case 'fault':
        this.fault = req.fault;
        return true;
      case 'destroyPodNetns':
        return this.serial(() => this.destroyPodNetns(req.netns));
      case 'devlink':
        return this.serial(async () => {
          const r = await runDevlink(
            this.devlinkModel(await listLinks(this.ip, this.host)),
            req.argv,
          );
          this.record('devlink', req.argv, r.code, r.code ? r.stderr.trim() : undefined);
          return r;
        });
      case 'ip':
        return this.serial(async () => {
          const r: ToolResult = (await runIpVf(this.ipModel(), req.argv)) ?? {
            stdout: '',
            stderr: '',
            code: 0,
            passthrough: true,
          };
          if (!r.passthrough)
            this.record('ip', req.argv, r.code, r.code ? r.stderr.trim() : undefined);
          return r;
        });
      case 'ethtool':
        return this.serial(async () => {
          const links = await listLinks(this.ip, this.host);
          let real: string | null = null;
          if (
            (req.argv[0] === '-k' || req.argv[0] === '--show-features') &&
            req.argv[1] &&
            this.cfg.realEthtool
          ) {
            const r = await this.runner
              .run(
                [
                  'nsenter',
                  `--net=/var/run/netns/${this.host.name}`,
                  this.cfg.realEthtool,
                  '-k',
                  req.argv[1],
                ],
                { okExitCodes: [1, 75] },
              )
              .catch(() => null);
            real = r && r.exitCode === 0 ? r.stdout : null;
          }
          const r = runEthtool(this.ethtoolModel(links), req.argv, real);
          if (!r.passthrough)
            this.record('ethtool', req.argv, r.code, r.code ? r.stderr.trim() : undefined);
          return r;
        });
      case 'vfinfo':
        return this.serial(async () => {
          const pf = this.pfs.find((p) => p.uplink === req.pf);
          if (!pf) return null;
          return {
            json: pf.vfs.map((vf) => vfinfoJson(vf.index, vf.knobs)),
            text: pf.vfs.map((vf) => vfinfoText(vf.index, vf.knobs)),
          };
        });
      case 'shutdown':
        setTimeout(() => void this.close().then(() => process.exit(0)), 10).unref();
        return true;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.monitor?.kill();
    await this.queue.catch(() => undefined);
  }
}

function logErr(err: unknown): void {
  console.error(`nic emulator: ${errorMessage(err)}`);
}
