import { errorMessage } from '../sys/index.js';
import {
  readInventory,
  USERSPACE_DRIVERS,
  type Inventory,
  type NicContext,
  type PfInfo,
} from '../vf/index.js';
import { withDpdkUplink, type DpdkLinkSource, type DpdkPortLink } from './dpdk-uplink.js';
import type { NodeSnapshot, PfState, PoolDevice } from './model.js';

/**
 * The one adapter from the NIC layer (src/vf) to the device plugin's model. A full read is the
 * NIC inventory (sysfs + devlink); between full reads, `refresh` re-reads only the few live
 * attributes health depends on, and asks for a full read when the structure moved (VFs added
 * or removed, drivers rebound, representors re-created by an eswitch mode change).
 */

export interface SnapshotSource {
  full(): Promise<NodeSnapshot>;
  /**
   * The previous snapshot with live state re-read, or null when a full read is needed.
   * Per-VF state is re-read when `perVf` is set or the host's netdevs changed since it was
   * last read; otherwise `devices` is `prev.devices` itself (same array: nothing to compare).
   */
  refresh(prev: NodeSnapshot, opts?: { perVf?: boolean }): Promise<NodeSnapshot | null>;
  /** Directories whose inotify events are worth an early refresh (hints only). */
  hintDirs(snap: NodeSnapshot): string[];
}

/** `type` of a netdev (ARPHRD_*) as sriov-network-device-plugin names link types. */
export function linkTypeName(type: string | null): string | null {
  const t = type?.trim();
  if (!t) return null;
  if (t === '1') return 'ether';
  if (t === '32') return 'infiniband';
  return t;
}

/** The physical port has link: operstate up, or "unknown" (drivers without RFC 2863) with carrier. */
export function portUp(operstate: string | null, carrier: boolean | null): boolean {
  if (operstate === 'up') return true;
  return operstate === 'unknown' && carrier === true;
}

export interface InventoryExtras {
  /** netdev name → its `type` attribute text. */
  netdevTypes: ReadonlyMap<string, string | null>;
  /** iommu groups whose `name` is vfio-noiommu. */
  noIommuGroups: ReadonlySet<number>;
}

function pfState(pf: PfInfo): PfState {
  return {
    pci: pf.pci,
    name: pf.netdev,
    uplink: pf.netdev,
    linkUp: pf.netdev !== null && portUp(pf.operstate, pf.carrier),
    eswitchMode: pf.eswitchMode,
    numVfs: pf.numVfs,
  };
}

/** Pure mapping of the NIC inventory to pool devices and PF states. */
export function fromInventory(inv: Inventory, extras: InventoryExtras): NodeSnapshot {
  const pfs: PfState[] = [];
  const devices: PoolDevice[] = [];
  for (const pf of inv.pfs) {
    pfs.push(pfState(pf));
    const pfType = pf.netdev === null ? null : (extras.netdevTypes.get(pf.netdev) ?? null);
    for (const vf of pf.vfs) {
      const vfType = vf.netdev === null ? null : (extras.netdevTypes.get(vf.netdev) ?? null);
      devices.push({
        pci: vf.pci,
        vendor: vf.vendor ?? pf.vendor ?? '',
        device: vf.device ?? '',
        driver: vf.driver,
        pfPci: pf.pci,
        pfName: pf.netdev,
        vfIndex: vf.vfIndex,
        numa: vf.numa ?? pf.numa,
        linkType: linkTypeName(vfType ?? pfType),
        rdma: vf.rdma,
        rdmaDevice: vf.rdmaDevices[0] ?? null,
        iommuGroup: vf.iommuGroup,
        vfioNoIommu: vf.iommuGroup !== null && extras.noIommuGroups.has(vf.iommuGroup),
        netdev: vf.netdev,
        representor: vf.representor,
      });
    }
  }
  return { pfs, devices };
}

/** The uplink when it is a netdev under the PF (a DPDK-owned PF's uplink is an OVS port). */
function netdevUplink(pf: PfState): string | null {
  return pf.eswitchMode === 'dpdk' ? null : pf.uplink;
}

interface PfSignature {
  virtfns: string;
  net: string;
  drivers: Map<string, string | null>;
}

const signatureOf = (names: readonly string[]) => [...names].sort().join(',');

const dev = (pci: string, rel = '') => `bus/pci/devices/${pci}${rel ? `/${rel}` : ''}`;

/**
 * Every netdev of this network namespace, as one readdir of class/net. A VF netdev moved into
 * a pod or out of it, renamed, created or destroyed by a driver (re)bind changes this list:
 * while it reads the same, the per-VF reads (a readlink and a readdir per VF, 1,000 at 512
 * VFs) would find nothing new, so the 250 ms live refresh skips them. sysfs raises no inotify
 * events for any of this, so a cheap whole-list read is what keeps the idle cost flat in N.
 */
const CLASS_NET = 'class/net';

export class SysfsSnapshotSource implements SnapshotSource {
  private signatures = new Map<string, PfSignature>();
  /** class/net as it read before the per-VF state in the current snapshot was read. */
  private netdevs: string | null = null;

  constructor(
    private readonly ctx: NicContext,
    /** The OVS DPDK ports, for PFs on a user-space driver; absent: their link is not judged. */
    private readonly dpdk?: DpdkLinkSource,
  ) {}

  /** DPDK uplink state applied to the DPDK-owned PFs; a failed read keeps `prev`'s view. */
  private async applyDpdk(pfs: PfState[], prev?: readonly PfState[]): Promise<PfState[]> {
    if (!pfs.some((p) => p.eswitchMode === 'dpdk')) return pfs;
    let ports: readonly DpdkPortLink[] | null = null;
    if (this.dpdk) {
      try {
        ports = await this.dpdk.ports();
      } catch (err) {
        this.ctx.logger?.warn(
          { err: errorMessage(err) },
          'device plugin: OVS DPDK ports unreadable',
        );
        if (prev) return pfs.map((p) => prev.find((q) => q.pci === p.pci) ?? p);
        ports = null;
      }
    }
    return pfs.map((p) => withDpdkUplink(p, ports));
  }

  async full(): Promise<NodeSnapshot> {
    // Read before the inventory: a change landing during it shows as a difference next time.
    const netdevs = signatureOf(await this.ctx.sysfs.listOrEmpty(CLASS_NET));
    const inv = await readInventory(this.ctx);
    const netdevTypes = new Map<string, string | null>();
    const noIommuGroups = new Set<number>();
    const reads: Promise<void>[] = [];
    for (const pf of inv.pfs) {
      if (pf.netdev !== null) reads.push(this.readType(pf.pci, pf.netdev, netdevTypes));
      for (const vf of pf.vfs) {
        if (vf.netdev !== null) reads.push(this.readType(vf.pci, vf.netdev, netdevTypes));
        if (vf.driver === 'vfio-pci' && vf.iommuGroup !== null) {
          const group = vf.iommuGroup;
          reads.push(
            this.ctx.sysfs.readOrNull(`kernel/iommu_groups/${group}/name`).then((n) => {
              if (n?.trim() === 'vfio-noiommu') noIommuGroups.add(group);
            }),
          );
        }
      }
    }
    await Promise.all(reads);
    // Signatures come from the inventory itself, not from a second read: a change landing
    // between two reads must show up as a difference on the next refresh.
    this.signatures = new Map(
      inv.pfs.map((pf) => [
        pf.pci,
        {
          virtfns: signatureOf(pf.vfs.map((v) => `virtfn${v.vfIndex}`)),
          net: signatureOf(pf.netdevs.map((n) => n.name)),
          drivers: new Map(pf.vfs.map((v) => [v.pci, v.driver])),
        },
      ]),
    );
    const snap = fromInventory(inv, { netdevTypes, noIommuGroups });
    this.netdevs = netdevs;
    return { ...snap, pfs: await this.applyDpdk(snap.pfs) };
  }

  private async readType(pci: string, netdev: string, out: Map<string, string | null>) {
    out.set(netdev, await this.ctx.sysfs.readOrNull(dev(pci, `net/${netdev}/type`)));
  }

  /** What decides whether a full read is needed, per PF. */
  private signature(pfPci: string): Omit<PfSignature, 'drivers'> {
    const entries = this.ctx.sysfs.listOrEmptySync(dev(pfPci));
    const net = this.ctx.sysfs.listOrEmptySync(dev(pfPci, 'net'));
    return {
      virtfns: signatureOf(entries.filter((e) => /^virtfn\d+$/.test(e))),
      net: signatureOf(net),
    };
  }

  /**
   * Whether a VF was unbound or bound to another driver since the last full read. A rebind to
   * vfio-pci (the DPDK workflow) changes nothing else the cheap read lists once the unbind
   * has been seen, and pools select on the driver. Each driver's directory lists the devices
   * bound to it: one listing per driver in use and per user-space driver (a handful), not a
   * readlink per VF (~17 us each here, ~3.6 % of a CPU at 512 VFs four times a second). A VF
   * bound to a driver no VF or PF used at the last full read, and that is not a user-space
   * one, is seen by the 5 min full read.
   */
  private driversMoved(): boolean {
    const expected = new Map<string, string | null>();
    for (const sig of this.signatures.values())
      for (const [pci, driver] of sig.drivers) expected.set(pci, driver);
    const watched = new Set<string>(USERSPACE_DRIVERS);
    for (const d of expected.values()) if (d !== null) watched.add(d);
    const found = new Map<string, string>();
    for (const driver of watched) {
      for (const entry of this.ctx.sysfs.listOrEmptySync(`bus/pci/drivers/${driver}`)) {
        if (expected.has(entry)) found.set(entry, driver);
      }
    }
    for (const [pci, driver] of expected) {
      const listed = found.get(pci) ?? null;
      if (listed === driver) continue;
      if (listed !== null) return true;
      // Not listed where its driver is: a sysfs without the driver directories' links (a
      // captured tree) or an unbind. The device's own link decides.
      if (this.ctx.sysfs.linkNameSync(dev(pci, 'driver')) !== driver) return true;
    }
    return false;
  }

  async refresh(prev: NodeSnapshot, opts: { perVf?: boolean } = {}): Promise<NodeSnapshot | null> {
    const netdevs = signatureOf(this.ctx.sysfs.listOrEmptySync(CLASS_NET));
    const perVf = opts.perVf === true || netdevs !== this.netdevs;
    // A VF rebound (the driver decides pools and device specs): read it all.
    if (this.driversMoved()) return null;
    const byPf = new Map<string, PoolDevice[]>();
    for (const d of prev.devices) {
      const list = byPf.get(d.pfPci);
      if (list) list.push(d);
      else byPf.set(d.pfPci, [d]);
    }
    const pfs: PfState[] = [];
    const devices: PoolDevice[] = [];
    for (const pf of prev.pfs) {
      const vfs = byPf.get(pf.pci) ?? [];
      const old = this.signatures.get(pf.pci);
      const uplinkAttr = (name: string) =>
        netdevUplink(pf) === null
          ? null
          : this.ctx.sysfs.readOrNullSync(dev(pf.pci, `net/${pf.uplink}/${name}`));
      const operstate = uplinkAttr('operstate');
      const carrier = uplinkAttr('carrier');
      const sig = this.signature(pf.pci);
      // VFs created or destroyed, or netdevs under the PF re-created (eswitch mode change,
      // uplink rename): read it all.
      if (!old || sig.virtfns !== old.virtfns || sig.net !== old.net) return null;
      const nets = perVf
        ? await Promise.all(vfs.map((v) => this.ctx.sysfs.listOrEmpty(dev(v.pci, 'net'))))
        : null;
      const c = carrier?.trim();
      pfs.push(
        netdevUplink(pf) === null && pf.eswitchMode === 'dpdk'
          ? pf
          : {
              ...pf,
              linkUp:
                pf.uplink !== null &&
                portUp(operstate?.trim() ?? null, c === '1' ? true : c === '0' ? false : null),
            },
      );
      if (nets) {
        vfs.forEach((v, i) => {
          const names = (nets[i] ?? []).sort();
          devices.push({ ...v, netdev: names[0] ?? null });
        });
      }
    }
    if (perVf) this.netdevs = netdevs;
    return {
      pfs: await this.applyDpdk(pfs, prev.pfs),
      devices: perVf ? devices : prev.devices,
    };
  }

  hintDirs(snap: NodeSnapshot): string[] {
    const dirs = [this.ctx.sysfs.path('bus/pci/devices')];
    for (const pf of snap.pfs) {
      dirs.push(this.ctx.sysfs.path(dev(pf.pci)), this.ctx.sysfs.path(dev(pf.pci, 'net')));
    }
    return dirs;
  }
}
