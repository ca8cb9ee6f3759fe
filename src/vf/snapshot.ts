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

/** How a field is read below a directory: an attribute's text, or a link target's basename. */
type Field = { attr: string } | { link: string };

/** Reads every field at once; null where sysfs has none. */
async function readFields<K extends string>(
  sysfs: SysFs,
  dir: string,
  fields: Readonly<Record<K, Field>>,
): Promise<Record<K, string | null>> {
  const keys = Object.keys(fields) as K[];
  const values = await Promise.all(
    keys.map((k) => {
      const f = fields[k];
      return 'attr' in f
        ? sysfs.readOrNull(`${dir}/${f.attr}`)
        : sysfs.linkName(`${dir}/${f.link}`);
    }),
  );
  const out = {} as Record<K, string | null>;
  keys.forEach((k, i) => (out[k] = values[i] ?? null));
  return out;
}

const NETDEV_FIELDS = {
  address: { attr: 'address' },
  operstate: { attr: 'operstate' },
  carrier: { attr: 'carrier' },
  physPortName: { attr: 'phys_port_name' },
  physSwitchId: { attr: 'phys_switch_id' },
  devPort: { attr: 'dev_port' },
} as const satisfies Partial<Record<keyof NetdevSnapshot, Field>>;

const FUNCTION_FIELDS = {
  class: { attr: 'class' },
  vendor: { attr: 'vendor' },
  device: { attr: 'device' },
  driver: { link: 'driver' },
  driverOverride: { attr: 'driver_override' },
  numaNode: { attr: 'numa_node' },
  sriovTotalVfs: { attr: 'sriov_totalvfs' },
  sriovNumVfs: { attr: 'sriov_numvfs' },
  sriovDriversAutoprobe: { attr: 'sriov_drivers_autoprobe' },
  physfn: { link: 'physfn' },
  iommuGroup: { link: 'iommu_group' },
} as const satisfies Partial<Record<keyof FunctionSnapshot, Field>>;

/** Only the two attributes that decide whether a function is an SR-IOV network PF. */
const PF_SIGNATURE_FIELDS = {
  class: FUNCTION_FIELDS.class,
  sriovTotalVfs: FUNCTION_FIELDS.sriovTotalVfs,
};

export async function readNetdev(sysfs: SysFs, dir: string, name: string): Promise<NetdevSnapshot> {
  return { name, ...(await readFields(sysfs, `${dir}/${name}`, NETDEV_FIELDS)) };
}

export async function readPfSignature(
  sysfs: SysFs,
  pci: string,
): Promise<Pick<FunctionSnapshot, keyof typeof PF_SIGNATURE_FIELDS>> {
  return readFields(sysfs, dev(pci), PF_SIGNATURE_FIELDS);
}

export async function readFunction(sysfs: SysFs, pci: string): Promise<FunctionSnapshot> {
  const entries = await sysfs.listOrEmpty(dev(pci));
  const virtfns = await Promise.all(
    entries
      .filter((e) => /^virtfn\d+$/.test(e))
      .map(async (link) => ({ link, pci: await sysfs.linkName(dev(pci, link)) })),
  );
  const netNames = (await sysfs.listOrEmpty(dev(pci, 'net'))).sort();
  const [fields, netdevs, uverbs, ibDevices] = await Promise.all([
    readFields(sysfs, dev(pci), FUNCTION_FIELDS),
    Promise.all(netNames.map((n) => readNetdev(sysfs, dev(pci, 'net'), n))),
    sysfs.listOrEmpty(dev(pci, 'infiniband_verbs')),
    sysfs.listOrEmpty(dev(pci, 'infiniband')),
  ]);
  return {
    pci,
    ...fields,
    // A virtfn link whose target vanished mid-read (VFs being removed) is skipped.
    virtfns: virtfns.flatMap((v) => (v.pci === null ? [] : [{ link: v.link, pci: v.pci }])),
    netdevs,
    uverbs,
    ibDevices,
  };
}
