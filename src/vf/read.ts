import {
  InvalidInputError,
  isIfName,
  isPciAddress,
  NotFoundError,
  NotSupportedError,
  type SysFs,
} from '../sys/index.js';
import {
  askDevlink,
  eswitchShowArgs,
  parseEswitchShow,
  PORT_SHOW_ARGS,
  type DevlinkAnswer,
} from './devlink.js';
import { isSrIovPf, parseInventory } from './inventory.js';
import { netdevInfo } from './parse.js';
import {
  readFunction,
  readNetdev,
  readPfSignature,
  type InventorySnapshot,
  type PfSnapshot,
} from './snapshot.js';
import type { RepresentorOptions } from './switch-ports.js';
import type { Inventory, NetdevInfo, NicContext, PfInfo } from './types.js';
import { isUserspaceDriver } from './userspace.js';

/**
 * The thin readers: sysfs under `<sysfsRoot>/sys` and `devlink -j`, never `ip`, so they work
 * against any sysfs root (a node's, a test tree, an emulated NIC).
 */

async function readPfSnapshot(ctx: NicContext, pci: string): Promise<PfSnapshot> {
  const fn = await readFunction(ctx.sysfs, pci);
  const vfs = await Promise.all(fn.virtfns.map((v) => readFunction(ctx.sysfs, v.pci)));
  // A PF on vfio-pci/uio is no devlink device: asking costs a fork and says nothing.
  const eswitch: DevlinkAnswer = isUserspaceDriver(fn.driver)
    ? { none: `bound to ${fn.driver ?? ''}` }
    : await askDevlink(ctx.runner, eswitchShowArgs(pci));
  if ('none' in eswitch) ctx.logger?.debug({ pf: pci, devlink: eswitch.none }, 'no eswitch');
  return { fn, vfs, eswitch };
}

/** Ports are asked for only when some PF is in switchdev: legacy PFs have no representors. */
async function readPorts(ctx: NicContext, pfs: readonly PfSnapshot[]): Promise<DevlinkAnswer> {
  const anySwitchdev = pfs.some((p) => parseEswitchShow(p.fn.pci, p.eswitch).mode === 'switchdev');
  return anySwitchdev ? askDevlink(ctx.runner, PORT_SHOW_ARGS) : { none: 'not asked' };
}

export async function readInventorySnapshot(ctx: NicContext): Promise<InventorySnapshot> {
  let all: string[];
  try {
    all = await ctx.sysfs.list('bus/pci/devices');
  } catch (err) {
    throw new NotFoundError(`${ctx.sysfs.root}/sys/bus/pci/devices`, {
      cause: err,
      message: `read PCI devices: ${ctx.sysfs.path('bus/pci/devices')} does not exist (is --sysfs-root the folder that contains sys/?)`,
    });
  }
  const candidates = all.filter(isPciAddress).map((p) => p.toLowerCase());
  const sigs = await Promise.all(candidates.map((pci) => readPfSignature(ctx.sysfs, pci)));
  const pfPcis = candidates.filter((_, i) => {
    const sig = sigs[i];
    return sig !== undefined && isSrIovPf(sig);
  });
  const pfs = await Promise.all(pfPcis.map((pci) => readPfSnapshot(ctx, pci)));
  return { pfs, ports: await readPorts(ctx, pfs) };
}

/** Every SR-IOV PF of the node, with VFs, eswitch mode, uplinks and representors. */
export async function readInventory(
  ctx: NicContext,
  opts: RepresentorOptions = {},
): Promise<Inventory> {
  const snap = await readInventorySnapshot(ctx);
  return parseInventory(snap, { legacyPortNames: opts.legacyPortNames ?? false });
}

/**
 * The PF's PCI address from a PCI address or any netdev of it. A netdev is looked up through
 * `class/net/<name>` at the moment of the call, so a PF whose netdev was renamed (udev, or
 * mlx5 re-creating it as the uplink when the eswitch mode changes) is found under its new
 * name; representors resolve to their PF, VF netdevs are refused.
 */
export async function resolvePfPci(sysfs: SysFs, pciOrNetdev: string): Promise<string> {
  let pci: string;
  let via = '';
  if (isPciAddress(pciOrNetdev)) {
    pci = pciOrNetdev.toLowerCase();
  } else {
    if (!isIfName(pciOrNetdev)) {
      throw new InvalidInputError(
        'PF',
        `${JSON.stringify(pciOrNetdev)} is neither a PCI address of the form DDDD:BB:DD.F nor an interface name`,
      );
    }
    const name = pciOrNetdev;
    const target = await sysfs.readlink(`class/net/${name}`).catch((err: unknown) => {
      throw new NotFoundError(`netdev ${name}`, {
        cause: err,
        message: `find PF of netdev ${name}: no such netdev in ${sysfs.path('class/net')}`,
      });
    });
    const parts = target.split('/');
    const owner = parts[parts.lastIndexOf('net') - 1] ?? '';
    if (!isPciAddress(owner)) {
      throw new NotFoundError(`netdev ${name}`, {
        message: `find PF of netdev ${name}: it is not a PCI device's netdev (${target})`,
      });
    }
    pci = owner.toLowerCase();
    via = ` (netdev ${name})`;
  }
  if (!(await sysfs.lexists(`bus/pci/devices/${pci}`))) {
    throw new NotFoundError(`PF ${pci}`, {
      message: `find PF ${pci}${via}: no such PCI device in ${sysfs.path('bus/pci/devices')}`,
    });
  }
  const physfn = await sysfs.linkName(`bus/pci/devices/${pci}/physfn`);
  if (physfn !== null) {
    throw new InvalidInputError('PF', `${pci}${via} is a VF (of PF ${physfn}), not a PF`);
  }
  if (!isSrIovPf(await readPfSignature(sysfs, pci))) {
    throw new NotSupportedError(`SR-IOV on ${pci}`, {
      message: `find PF ${pci}${via}: not an SR-IOV network function (no sriov_totalvfs, or not class 0x02)`,
    });
  }
  return pci;
}

/** One PF, read afresh (the executor re-reads after every step). */
export async function readPf(
  ctx: NicContext,
  pciOrNetdev: string,
  opts: RepresentorOptions = {},
): Promise<PfInfo> {
  const pci = await resolvePfPci(ctx.sysfs, pciOrNetdev);
  const snap = await readPfSnapshot(ctx, pci);
  const ports = await readPorts(ctx, [snap]);
  const inv = parseInventory(
    { pfs: [snap], ports },
    { legacyPortNames: opts.legacyPortNames ?? false },
  );
  const pf = inv.pfs[0];
  if (!pf) throw new NotFoundError(`PF ${pci}`);
  return pf;
}

/** The netdevs under a function's own `net/`, parsed. */
export async function netdevsOf(sysfs: SysFs, pci: string): Promise<NetdevInfo[]> {
  const dir = `bus/pci/devices/${pci}/net`;
  const names = (await sysfs.listOrEmpty(dir)).sort();
  return (await Promise.all(names.map((n) => readNetdev(sysfs, dir, n)))).map(netdevInfo);
}

/** N of every `virtfnN` link of the PF, in numeric order. */
export async function virtfnIndexes(sysfs: SysFs, pfPci: string): Promise<number[]> {
  return (await sysfs.listOrEmpty(`bus/pci/devices/${pfPci}`))
    .flatMap((e) => {
      const m = /^virtfn(\d+)$/.exec(e);
      return m ? [Number(m[1])] : [];
    })
    .sort((a, b) => a - b);
}
