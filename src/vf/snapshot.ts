import type { SysFs } from '../sys/index.js';
import type { DevlinkAnswer } from './devlink.js';

/**
 * The raw facts the inventory is computed from: attribute texts as sysfs returned them (null
 * when absent or refused) and devlink's stdout. Reading and understanding are separate so the
 * rules can be tested on any machine's layout without that machine.
 */

export interface NetdevSnapshot {
  name: string;
  address: string | null;
  operstate: string | null;
  carrier: string | null;
  physPortName: string | null;
  physSwitchId: string | null;
  devPort: string | null;
}

export interface FunctionSnapshot {
  pci: string;
  class: string | null;
  vendor: string | null;
  device: string | null;
  /** Basename of the `driver` link. */
  driver: string | null;
  driverOverride: string | null;
  numaNode: string | null;
  sriovTotalVfs: string | null;
  sriovNumVfs: string | null;
  sriovDriversAutoprobe: string | null;
  /** Basename of the `physfn` link (VFs only). */
  physfn: string | null;
  /** `virtfnN` link name → target basename, in directory order (not numeric order). */
  virtfns: { link: string; pci: string }[];
  /** Basename of the `iommu_group` link. */
  iommuGroup: string | null;
  netdevs: NetdevSnapshot[];
  /** Entries of `infiniband_verbs/` and `infiniband/`. */
  uverbs: string[];
  ibDevices: string[];
}

export interface PfSnapshot {
  fn: FunctionSnapshot;
  /** The functions the PF's virtfn links point to. */
  vfs: FunctionSnapshot[];
  /** `devlink -j dev eswitch show pci/<pf>`. */
  eswitch: DevlinkAnswer;
}

export interface InventorySnapshot {
  pfs: PfSnapshot[];
  /** `devlink -j port show`; none when nothing was in switchdev (not asked). */
  ports: DevlinkAnswer;
}

const dev = (pci: string, rel = '') => `bus/pci/devices/${pci}${rel ? `/${rel}` : ''}`;

export async function readNetdev(sysfs: SysFs, dir: string, name: string): Promise<NetdevSnapshot> {
  const a = (attr: string) => sysfs.readOrNull(`${dir}/${name}/${attr}`);
  const [address, operstate, carrier, physPortName, physSwitchId, devPort] = await Promise.all([
    a('address'),
    a('operstate'),
    a('carrier'),
    a('phys_port_name'),
    a('phys_switch_id'),
    a('dev_port'),
  ]);
  return { name, address, operstate, carrier, physPortName, physSwitchId, devPort };
}

/** Only the two attributes that decide whether a function is an SR-IOV network PF. */
export async function readPfSignature(
  sysfs: SysFs,
  pci: string,
): Promise<{ class: string | null; sriovTotalVfs: string | null }> {
  const [cls, total] = await Promise.all([
    sysfs.readOrNull(dev(pci, 'class')),
    sysfs.readOrNull(dev(pci, 'sriov_totalvfs')),
  ]);
  return { class: cls, sriovTotalVfs: total };
}

export async function readFunction(sysfs: SysFs, pci: string): Promise<FunctionSnapshot> {
  const r = (attr: string) => sysfs.readOrNull(dev(pci, attr));
  const entries = await sysfs.listOrEmpty(dev(pci));
  const virtfns = await Promise.all(
    entries
      .filter((e) => /^virtfn\d+$/.test(e))
      .map(async (link) => ({ link, pci: await sysfs.linkName(dev(pci, link)) })),
  );
  const netNames = (await sysfs.listOrEmpty(dev(pci, 'net'))).sort();
  const [
    cls,
    vendor,
    device,
    driver,
    driverOverride,
    numaNode,
    sriovTotalVfs,
    sriovNumVfs,
    sriovDriversAutoprobe,
    physfn,
    iommuGroup,
    netdevs,
    uverbs,
    ibDevices,
  ] = await Promise.all([
    r('class'),
    r('vendor'),
    r('device'),
    sysfs.linkName(dev(pci, 'driver')),
    r('driver_override'),
    r('numa_node'),
    r('sriov_totalvfs'),
    r('sriov_numvfs'),
    r('sriov_drivers_autoprobe'),
    sysfs.linkName(dev(pci, 'physfn')),
    sysfs.linkName(dev(pci, 'iommu_group')),
    Promise.all(netNames.map((n) => readNetdev(sysfs, dev(pci, 'net'), n))),
    sysfs.listOrEmpty(dev(pci, 'infiniband_verbs')),
    sysfs.listOrEmpty(dev(pci, 'infiniband')),
  ]);
  return {
    pci,
    class: cls,
    vendor,
    device,
    driver,
    driverOverride,
    numaNode,
    sriovTotalVfs,
    sriovNumVfs,
    sriovDriversAutoprobe,
    physfn,
    // A virtfn link whose target vanished mid-read (VFs being removed) is skipped.
    virtfns: virtfns.flatMap((v) => (v.pci === null ? [] : [{ link: v.link, pci: v.pci }])),
    iommuGroup,
    netdevs,
    uverbs,
    ibDevices,
  };
}
