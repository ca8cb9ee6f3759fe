import { parsePciAddress } from '../sys/index.js';
import type { DevlinkPort } from './devlink.js';
import { parsePhysPortName } from './portnames.js';
import type { NetdevInfo } from './types.js';

/**
 * Which netdev under a PF is its uplink, and which is the representor of each of its VFs.
 * Pure rules over what sysfs and devlink report, shared by the inventory and src/representor
 * so `nics --json` and a pod's attachment can never disagree.
 */

export interface RepresentorOptions {
  /** Accept the bare-number phys_port_name of kernels before devlink port attributes. */
  legacyPortNames?: boolean;
}

/**
 * The uplink: a netdev under the PF's own `net/` that is a switch port (non-empty
 * phys_switch_id) named `p<N>` (or `p<N>s<M>` when split). Never "the first entry": in switchdev
 * the same directory holds every representor. A NIC with several physical ports on one PF
 * (nfp) gives the lowest port. With legacyPortNames, kernels that gave the uplink no
 * phys_port_name at all are accepted when exactly one switch port has none.
 */
export function pickUplink(
  netdevs: readonly NetdevInfo[],
  opts: RepresentorOptions = {},
): NetdevInfo | null {
  const physical: { nd: NetdevInfo; port: number; split: number }[] = [];
  for (const nd of netdevs) {
    if (!nd.physSwitchId || nd.physPortName === null) continue;
    const p = parsePhysPortName(nd.physPortName);
    if (p.kind === 'physical') physical.push({ nd, port: p.port, split: p.split ?? -1 });
  }
  physical.sort((a, b) => a.port - b.port || a.split - b.split || cmp(a.nd.name, b.nd.name));
  if (physical[0]) return physical[0].nd;
  if (opts.legacyPortNames) {
    const unnamed = netdevs.filter((nd) => nd.physSwitchId && nd.physPortName === null);
    if (unnamed.length === 1 && unnamed[0]) return unnamed[0];
  }
  return null;
}

/**
 * The PF's own netdev when no uplink applies (legacy mode): the only one, else the kernel's
 * `dev_port` order (ports of a multi-port function), then name.
 */
export function pickPfNetdev(netdevs: readonly NetdevInfo[]): NetdevInfo | null {
  const sorted = [...netdevs].sort(
    (a, b) => (a.devPort ?? 0) - (b.devPort ?? 0) || cmp(a.name, b.name),
  );
  return sorted[0] ?? null;
}

/**
 * This PF's number in representor names (`pf<N>vf<M>`). devlink knows it when it lists
 * host-local PF/VF ports under this PF's handle. Otherwise the drivers print the number they
 * also give the uplink's physical port (`p<N>`: recent ice uses hw->pf_id for both,
 * mlx5 its device index), which is the PCI function number on older kernels (ice
 * hw->bus.func, mlx5 PCI_FUNC(devfn); nfp has one PF: 0). Both are accepted when they
 * differ; another PF's number is not.
 */
export function pfNumbers(
  pfPci: string,
  ports: readonly DevlinkPort[],
  uplink: NetdevInfo | null,
): number[] {
  const fromDevlink = new Set<number>();
  for (const p of ports) {
    if (p.device !== `pci/${pfPci}` || !isHostLocal(p) || p.pfnum === null) continue;
    if (p.flavour === 'pcipf' || p.flavour === 'pcivf') fromDevlink.add(p.pfnum);
  }
  if (fromDevlink.size === 1) return [...fromDevlink];
  const nums = new Set([parsePciAddress(pfPci).fn]);
  const port = uplink?.physPortName ? parsePhysPortName(uplink.physPortName) : null;
  if (port?.kind === 'physical' && port.split === null) nums.add(port.port);
  return [...nums];
}

/** Controller 0 (or no controller attribute: older kernels) and not external. */
function isHostLocal(p: DevlinkPort): boolean {
  return (p.controller === null || p.controller === 0) && p.external !== true;
}

export interface RepresentorFacts {
  pfPci: string;
  /** Netdevs under the PF's own `net/`. */
  netdevs: readonly NetdevInfo[];
  /** `devlink port show` (every device; filtered here). */
  ports: readonly DevlinkPort[];
  /** Indexes of the VFs that exist (`virtfnN`). */
  vfIndexes: readonly number[];
}

/**
 * VF index → representor netdev for the VFs that exist.
 *  1. devlink: a port of this PF's handle with flavour `pcivf`, controller 0 or absent,
 *     external not true, `vfnum` = VF index, and a netdev. (A DPU lists the host's VFs as
 *     external controller-1 ports; a hypervisor's VF netdevs show as `virtual` ports of the
 *     VF's own handle: neither is a representor here.)
 *  2. sysfs, for VFs devlink did not answer: a switch port under the PF's `net/` whose
 *     phys_port_name is `pf<N>vf<M>` with N this PF's number (two PFs of one NIC share
 *     phys_switch_id, so the switch id alone proves nothing), never `c<C>pf…` (another
 *     controller), `pf<N>sf<M>` (a sub-function) or `pf<N>` (a PF representor); the bare
 *     `<M>` only with legacyPortNames and the uplink's switch id.
 * A VF index claimed by two netdevs is left unmapped rather than guessed.
 */
export function matchRepresentors(
  facts: RepresentorFacts,
  opts: RepresentorOptions = {},
): Map<number, string> {
  const wanted = new Set(facts.vfIndexes);
  const out = new Map<number, string>();
  const ambiguous = new Set<number>();
  const claim = (vf: number, netdev: string) => {
    if (!wanted.has(vf) || ambiguous.has(vf)) return;
    const had = out.get(vf);
    if (had !== undefined && had !== netdev) {
      out.delete(vf);
      ambiguous.add(vf);
    } else out.set(vf, netdev);
  };

  for (const p of facts.ports) {
    if (p.device !== `pci/${facts.pfPci}` || p.flavour !== 'pcivf' || !isHostLocal(p)) continue;
    if (p.vfnum !== null && p.netdev) claim(p.vfnum, p.netdev);
  }
  const fromDevlink = new Set([...out.keys(), ...ambiguous]);

  const uplink = pickUplink(facts.netdevs, opts);
  const pfNums = pfNumbers(facts.pfPci, facts.ports, uplink);
  const uplinkSwitchId = uplink?.physSwitchId ?? null;
  for (const nd of facts.netdevs) {
    if (!nd.physSwitchId || nd.physPortName === null) continue;
    if (uplinkSwitchId !== null && nd.physSwitchId !== uplinkSwitchId) continue;
    const p = parsePhysPortName(nd.physPortName);
    let vf: number | null = null;
    if (p.kind === 'vf' && p.controller === null && pfNums.includes(p.pf)) vf = p.vf;
    else if (p.kind === 'legacyVf' && opts.legacyPortNames && uplinkSwitchId !== null) vf = p.vf;
    if (vf !== null && !fromDevlink.has(vf)) claim(vf, nd.name);
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
