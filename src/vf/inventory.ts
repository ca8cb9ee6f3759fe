import { isPciAddress } from '../sys/index.js';
import {
  parseEswitchShow,
  parsePortShow,
  type DevlinkAnswer,
  type DevlinkPort,
  type EswitchState,
} from './devlink.js';
import {
  driverOverride,
  hexId,
  isNetworkClass,
  naturalSort,
  netdevInfo,
  numaNode,
  orderedVfs,
  uint,
} from './parse.js';
import type { FunctionSnapshot, InventorySnapshot, PfSnapshot } from './snapshot.js';
import {
  matchRepresentors,
  pickPfNetdev,
  pickUplink,
  type RepresentorOptions,
} from './switch-ports.js';
import type { Inventory, PfEswitchMode, PfInfo, VfInfo } from './types.js';
import { isUserspaceDriver } from './userspace.js';

/**
 * The inventory, computed purely from a snapshot: PFs are network-class functions with
 * `sriov_totalvfs`, sorted by PCI address; VFs follow `virtfnN` in numeric order.
 * Throws (NotSupportedError) when devlink printed something that is not its JSON.
 */
export function parseInventory(snap: InventorySnapshot, opts: RepresentorOptions = {}): Inventory {
  const ports = parsePortShow(snap.ports);
  const pfs = snap.pfs
    .filter((p) => isSrIovPf(p.fn))
    .map((p) => parsePf(p, ports, opts))
    .sort((a, b) => (a.pci < b.pci ? -1 : a.pci > b.pci ? 1 : 0));
  return { pfs };
}

export function isSrIovPf(fn: Pick<FunctionSnapshot, 'class' | 'sriovTotalVfs'>): boolean {
  return isNetworkClass(fn.class) && fn.sriovTotalVfs !== null;
}

function parsePf(p: PfSnapshot, ports: readonly DevlinkPort[], opts: RepresentorOptions): PfInfo {
  const fn = p.fn;
  const pci = fn.pci.toLowerCase();
  const eswitch = pfEswitch(pci, fn.driver, p.eswitch);
  const netdevs = fn.netdevs.map(netdevInfo).sort((a, b) => (a.name < b.name ? -1 : 1));
  const switchdev = eswitch.mode === 'switchdev';
  const uplink = switchdev ? pickUplink(netdevs, opts) : null;
  // §3.4: in switchdev the PF "is" its uplink; a PF netdev without a switch id is not one.
  const own = switchdev ? uplink : pickPfNetdev(netdevs);
  const order = orderedVfs(fn);
  const reps = switchdev
    ? matchRepresentors({ pfPci: pci, netdevs, ports, vfIndexes: order.map((v) => v.index) }, opts)
    : new Map<number, string>();
  const byPci = new Map(p.vfs.map((v) => [v.pci.toLowerCase(), v]));
  return {
    pci,
    vendor: hexId(fn.vendor),
    device: hexId(fn.device),
    driver: fn.driver,
    numa: numaNode(fn.numaNode),
    iommuGroup: uint(fn.iommuGroup),
    netdevs,
    netdev: own?.name ?? null,
    uplink: uplink?.name ?? null,
    physPortName: own?.physPortName ?? null,
    physSwitchId: own?.physSwitchId ?? null,
    mac: own?.mac ?? null,
    operstate: own?.operstate ?? null,
    carrier: own?.carrier ?? null,
    totalVfs: uint(fn.sriovTotalVfs) ?? 0,
    numVfs: uint(fn.sriovNumVfs) ?? order.length,
    // Absent before kernel 4.12, where every VF was probed at creation.
    autoprobe: fn.sriovDriversAutoprobe === null || fn.sriovDriversAutoprobe.trim() !== '0',
    eswitchMode: eswitch.mode,
    eswitchInactive: eswitch.inactive,
    vfs: order.map((v) => parseVf(v.index, v.pci, byPci.get(v.pci), reps.get(v.index) ?? null)),
  };
}

/**
 * devlink's answer when it has one. Without one, a PF on a user-space driver is `dpdk` (its
 * eswitch is the PMD's; calling it legacy would send its VFs down the VF-knob path, which
 * needs the PF netdev it no longer has); any other PF is legacy (§3.4).
 */
export function pfEswitch(
  pci: string,
  driver: string | null,
  answer: DevlinkAnswer,
): { mode: PfEswitchMode; inactive: boolean } {
  const state: EswitchState = parseEswitchShow(pci, answer);
  if ('none' in answer && isUserspaceDriver(driver)) return { mode: 'dpdk', inactive: false };
  return state;
}

function parseVf(
  index: number,
  pci: string,
  fn: FunctionSnapshot | undefined,
  representor: string | null,
): VfInfo {
  const netdevs = (fn?.netdevs ?? []).map(netdevInfo);
  const own = pickPfNetdev(netdevs);
  return {
    vfIndex: index,
    pci,
    vendor: hexId(fn?.vendor ?? null),
    device: hexId(fn?.device ?? null),
    driver: fn?.driver ?? null,
    driverOverride: driverOverride(fn?.driverOverride ?? null),
    numa: numaNode(fn?.numaNode ?? null),
    netdevs: netdevs.map((n) => n.name).sort(),
    netdev: own?.name ?? null,
    mac: own?.mac ?? null,
    operstate: own?.operstate ?? null,
    carrier: own?.carrier ?? null,
    iommuGroup: uint(fn?.iommuGroup ?? null),
    rdma: naturalSort((fn?.uverbs ?? []).filter((u) => /^uverbs\d+$/.test(u))),
    rdmaDevices: naturalSort(fn?.ibDevices ?? []),
    representor,
  };
}

/** The PF and VF of a VF PCI address. */
export function findVf(inv: Inventory, vfPci: string): { pf: PfInfo; vf: VfInfo } | undefined {
  if (!isPciAddress(vfPci)) return undefined;
  const want = vfPci.toLowerCase();
  for (const pf of inv.pfs) {
    const vf = pf.vfs.find((v) => v.pci === want);
    if (vf) return { pf, vf };
  }
  return undefined;
}
