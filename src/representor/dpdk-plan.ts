import type { PfInfo } from '../vf/index.js';
import { METASCALE_VENDOR } from './strategy.js';

/**
 * How a PF meets DPDK, for `nics apply --plan`. A bifurcated PMD (mlx5, metaScale xsc)
 * drives the NIC next to its kernel driver: the PF netdev, devlink and switchdev stay, and
 * the PMD opens the PF by PCI address. Any other PMD needs the PF on vfio-pci, which takes
 * the netdev and devlink away: then sysfs (virtfn links, sriov_numvfs) is all the kernel
 * still tells, and the eswitch belongs to the PMD.
 */

const NVIDIA_VENDOR = '15b3';

export function isBifurcated(pf: Pick<PfInfo, 'driver' | 'vendor'>): boolean {
  if (pf.driver === 'mlx5_core') return true;
  return pf.driver !== null && (pf.vendor === METASCALE_VENDOR || pf.vendor === NVIDIA_VENDOR);
}

export function describeDpdkPf(pf: PfInfo): string[] {
  const vfs = `${pf.vfs.length} VF${pf.vfs.length === 1 ? '' : 's'} indexed by their virtfn links`;
  if (pf.eswitchMode === 'dpdk') {
    return [
      `bound to ${pf.driver ?? '?'}: no PF netdev, no devlink answer; ${vfs}; the eswitch is the PMD's and VF representors are DPDK ports (dpdk-devargs=${pf.pci},representor=…)`,
    ];
  }
  if (pf.driver === null) {
    return ['no driver bound: neither the kernel nor a PMD drives it'];
  }
  if (isBifurcated(pf)) {
    const out = [
      `bifurcated PMD: ${pf.driver} keeps the PF netdev ${pf.netdev ?? '(none yet)'}; DPDK opens ${pf.pci} alongside it; ${vfs}`,
    ];
    if (pf.eswitchMode !== 'switchdev') {
      out.push(
        `eswitch is ${pf.eswitchMode}: the PMD makes VF representors only in switchdev (eswitchMode: switchdev in nics[])`,
      );
    }
    return out;
  }
  const netdev = pf.netdev === null ? '' : ` (which removes its netdev ${pf.netdev})`;
  return [
    `${pf.driver} is not a bifurcated driver: a DPDK PMD can open this PF only once it is bound to vfio-pci${netdev}; nothing here rebinds a PF`,
  ];
}
