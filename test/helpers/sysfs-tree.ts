import {
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SysFs } from '../../src/sys/index.js';
import { RecordingRunner } from './recording-runner.js';
import type { NicContext } from '../../src/vf/index.js';

/**
 * Builds a sysfs tree shaped like the kernel's from a compact description, under a temp
 * `<root>/sys`:
 *   devices/<parent>/<bdf>/{class,vendor,device,numa_node,driver→,iommu_group→,physfn→,virtfnN→,
 *                           sriov_*,driver_override,net/<ifname>/{address,operstate,carrier,
 *                           phys_port_name,phys_switch_id,dev_port},infiniband_verbs/uverbsN}
 *   bus/pci/devices/<bdf> → ../../../devices/<parent>/<bdf>
 *   bus/pci/drivers/<driver>/{bind,unbind,<bdf>→}
 *   class/net/<ifname> → ../../devices/<parent>/<bdf>/net/<ifname>
 *   kernel/iommu_groups/<n>/devices/<bdf>→
 * Attributes the description leaves out are absent, as the kernel's EOPNOTSUPP reads.
 */

export interface NetdevSpec {
  name: string;
  mac?: string;
  operstate?: string;
  carrier?: '0' | '1';
  physPortName?: string;
  physSwitchId?: string;
  devPort?: number;
}

export interface FunctionSpec {
  pci: string;
  /** Path under sys/devices of the parent (default pci0000:00/0000:00:03.0). */
  parent?: string;
  class?: string;
  vendor?: string;
  device?: string;
  driver?: string | null;
  driverOverride?: string;
  numa?: number;
  iommuGroup?: number;
  netdevs?: (string | NetdevSpec)[];
  uverbs?: string[];
  ibDevices?: string[];
}

export interface VfSpec extends Omit<FunctionSpec, 'parent'> {
  index: number;
}

export interface PfSpec extends FunctionSpec {
  totalVfs: number;
  /** Default: vfs.length. */
  numVfs?: number;
  autoprobe?: boolean;
  vfs?: VfSpec[];
}

export interface TreeSpec {
  pfs: PfSpec[];
  /** Other PCI functions (a plain NIC, a NVMe drive, a bridge). */
  others?: FunctionSpec[];
}

export interface Tree {
  root: string;
  sysfs: SysFs;
  /** Absolute path of `rel` under <root>/sys. */
  sys(rel: string): string;
  /** Every file, symlink and its content/target: to assert that nothing changed. */
  fingerprint(): Promise<string[]>;
  cleanup(): Promise<void>;
}

const DEFAULT_PARENT = 'pci0000:00/0000:00:03.0';

async function put(p: string, text: string): Promise<void> {
  await mkdir(path.dirname(p), { recursive: true });
  await writeFile(p, text);
}

async function link(target: string, at: string): Promise<void> {
  await mkdir(path.dirname(at), { recursive: true });
  await rm(at, { force: true });
  await symlink(path.relative(path.dirname(at), target), at);
}

export async function buildSysfsTree(spec: TreeSpec): Promise<Tree> {
  const root = await mkdtemp(path.join(tmpdir(), 'oo-sysfs-'));
  const sys = (rel: string) => path.join(root, 'sys', rel);
  const devDirs = new Map<string, string>();
  let nextGroup = 10;

  const fn = async (f: FunctionSpec, parent: string) => {
    const dir = sys(`devices/${parent}/${f.pci}`);
    devDirs.set(f.pci, dir);
    await mkdir(dir, { recursive: true });
    await put(path.join(dir, 'class'), `${f.class ?? '0x020000'}\n`);
    if (f.vendor) await put(path.join(dir, 'vendor'), `0x${f.vendor}\n`);
    if (f.device) await put(path.join(dir, 'device'), `0x${f.device}\n`);
    await put(path.join(dir, 'numa_node'), `${f.numa ?? -1}\n`);
    await put(path.join(dir, 'driver_override'), `${f.driverOverride ?? '(null)'}\n`);
    await link(dir, sys(`bus/pci/devices/${f.pci}`));
    const group = f.iommuGroup ?? nextGroup++;
    await link(dir, sys(`kernel/iommu_groups/${group}/devices/${f.pci}`));
    await link(sys(`kernel/iommu_groups/${group}`), path.join(dir, 'iommu_group'));
    if (f.driver) {
      const drv = sys(`bus/pci/drivers/${f.driver}`);
      await put(path.join(drv, 'bind'), '');
      await put(path.join(drv, 'unbind'), '');
      await link(drv, path.join(dir, 'driver'));
      await link(dir, path.join(drv, f.pci));
    }
    for (const nd of f.netdevs ?? []) {
      const n: NetdevSpec = typeof nd === 'string' ? { name: nd } : nd;
      const nd_dir = path.join(dir, 'net', n.name);
      await put(path.join(nd_dir, 'address'), `${n.mac ?? '00:00:00:00:00:00'}\n`);
      await put(path.join(nd_dir, 'operstate'), `${n.operstate ?? 'down'}\n`);
      if (n.carrier !== undefined) await put(path.join(nd_dir, 'carrier'), `${n.carrier}\n`);
      if (n.physPortName !== undefined) {
        await put(path.join(nd_dir, 'phys_port_name'), `${n.physPortName}\n`);
      }
      if (n.physSwitchId !== undefined) {
        await put(path.join(nd_dir, 'phys_switch_id'), `${n.physSwitchId}\n`);
      }
      if (n.devPort !== undefined) await put(path.join(nd_dir, 'dev_port'), `${n.devPort}\n`);
      await link(dir, path.join(nd_dir, 'device'));
      await link(nd_dir, sys(`class/net/${n.name}`));
    }
    for (const u of f.uverbs ?? [])
      await mkdir(path.join(dir, 'infiniband_verbs', u), { recursive: true });
    for (const d of f.ibDevices ?? [])
      await mkdir(path.join(dir, 'infiniband', d), { recursive: true });
    return dir;
  };

  await mkdir(sys('bus/pci/devices'), { recursive: true });
  await mkdir(sys('class/net'), { recursive: true });
  for (const o of spec.others ?? []) await fn(o, o.parent ?? DEFAULT_PARENT);
  for (const pf of spec.pfs) {
    const parent = pf.parent ?? DEFAULT_PARENT;
    const pfDir = await fn(pf, parent);
    const vfs = pf.vfs ?? [];
    await put(path.join(pfDir, 'sriov_totalvfs'), `${pf.totalVfs}\n`);
    await put(path.join(pfDir, 'sriov_numvfs'), `${pf.numVfs ?? vfs.length}\n`);
    await put(path.join(pfDir, 'sriov_drivers_autoprobe'), `${pf.autoprobe === false ? 0 : 1}\n`);
    // Created in reverse so directory order is not numeric order either.
    for (const vf of [...vfs].reverse()) {
      const vfDir = await fn(vf, parent);
      await link(pfDir, path.join(vfDir, 'physfn'));
      await link(vfDir, path.join(pfDir, `virtfn${vf.index}`));
    }
  }

  return {
    root,
    sysfs: new SysFs(root),
    sys,
    fingerprint: async () => {
      const out: string[] = [];
      const walk = async (d: string): Promise<void> => {
        for (const e of (await readdir(d)).sort()) {
          const p = path.join(d, e);
          const st = await lstat(p);
          const rel = path.relative(root, p);
          if (st.isSymbolicLink()) out.push(`${rel} -> ${await readlink(p)}`);
          else if (st.isDirectory()) await walk(p);
          else out.push(`${rel} = ${JSON.stringify(await readFile(p, 'utf8'))}`);
        }
      };
      await walk(path.join(root, 'sys'));
      return out;
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** Consecutive VF specs starting at a PCI routing position, like SR-IOV offset/stride 1. */
export function vfRange(
  first: string,
  count: number,
  per: (index: number) => Omit<VfSpec, 'index' | 'pci'> = () => ({}),
): VfSpec[] {
  const m = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(first);
  if (!m) throw new Error(`bad PCI address ${first}`);
  const rid0 = (parseInt(m[2]!, 16) << 8) | (parseInt(m[3]!, 16) << 3) | parseInt(m[4]!, 16);
  return Array.from({ length: count }, (_, index) => {
    const rid = rid0 + index;
    const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
    const pci = `${m[1]}:${hex(rid >> 8, 2)}:${hex((rid >> 3) & 0x1f, 2)}.${rid & 7}`;
    return { index, pci, ...per(index) };
  });
}

export type EswitchAnswer =
  'legacy' | 'switchdev' | 'switchdev_inactive' | 'none' | { stdout: string };

/**
 * A RecordingRunner answering devlink like iproute2 does: `dev eswitch show` per PF (`none`:
 * "devlink answers: No such device"), `port show` from a JSON object (or `none`).
 */
export function devlinkRunner(opts: {
  eswitch?: Record<string, EswitchAnswer>;
  ports?: unknown;
}): RecordingRunner {
  const r = new RecordingRunner();
  for (const [pci, a] of Object.entries(opts.eswitch ?? {})) {
    const argv = `devlink -j dev eswitch show pci/${pci}`;
    if (a === 'none') r.on(argv, { exitCode: 1, stderr: 'devlink answers: No such device\n' });
    else if (typeof a === 'object') r.on(argv, a);
    else {
      r.on(argv, {
        stdout: `${JSON.stringify({ dev: { [`pci/${pci}`]: { mode: a, 'inline-mode': 'none', 'encap-mode': 'basic' } } })}\n`,
      });
    }
  }
  const ports = opts.ports ?? 'none';
  if (ports === 'none') {
    r.on('devlink -j port show', {
      exitCode: 1,
      stderr: 'devlink answers: Operation not supported\n',
    });
  } else r.on('devlink -j port show', { stdout: `${JSON.stringify(ports)}\n` });
  return r;
}

export function ctxOf(tree: Tree, runner: RecordingRunner): NicContext {
  return { sysfs: tree.sysfs, runner };
}
