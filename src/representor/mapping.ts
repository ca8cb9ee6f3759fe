import { assertIntInRange, NotFoundError } from '../sys/index.js';
import {
  askDevlink,
  matchRepresentors,
  netdevsOf,
  parsePortShow,
  pickPfNetdev,
  pickUplink,
  PORT_SHOW_ARGS,
  resolvePfPci,
  virtfnIndexes,
  type DevlinkPort,
  type NicContext,
  type RepresentorOptions,
} from '../vf/index.js';

/**
 * Host lookups of a PF's uplink and VF representors, with the rules of src/vf/switch-ports.ts
 * (the inventory uses the same ones). Each call reads the host afresh: names change when the
 * eswitch mode changes and when udev renames.
 */

export interface UplinkInfo {
  pf: string;
  /** The uplink representor; null in legacy mode (no phys_switch_id). */
  uplink: string | null;
  /** The PF's netdev: the uplink in switchdev, else its own netdev. */
  netdev: string | null;
  physSwitchId: string | null;
}

export async function findUplink(
  ctx: NicContext,
  pfPci: string,
  opts: RepresentorOptions = {},
): Promise<UplinkInfo> {
  const pf = await resolvePfPci(ctx.sysfs, pfPci);
  const netdevs = await netdevsOf(ctx.sysfs, pf);
  const uplink = pickUplink(netdevs, opts);
  const netdev = uplink ?? pickPfNetdev(netdevs);
  return {
    pf,
    uplink: uplink?.name ?? null,
    netdev: netdev?.name ?? null,
    physSwitchId: uplink?.physSwitchId ?? null,
  };
}

async function ports(ctx: NicContext): Promise<DevlinkPort[]> {
  return parsePortShow(await askDevlink(ctx.runner, PORT_SHOW_ARGS));
}

/** VF index → representor netdev for every VF of the PF that has one. */
export async function mapRepresentors(
  ctx: NicContext,
  pfPci: string,
  opts: RepresentorOptions = {},
): Promise<Map<number, string>> {
  const pf = await resolvePfPci(ctx.sysfs, pfPci);
  const [netdevs, vfIndexes, devlinkPorts] = await Promise.all([
    netdevsOf(ctx.sysfs, pf),
    virtfnIndexes(ctx.sysfs, pf),
    ports(ctx),
  ]);
  return matchRepresentors({ pfPci: pf, netdevs, ports: devlinkPorts, vfIndexes }, opts);
}

/** The representor of VF `vfIndex` of the PF; null when it has none (legacy mode). */
export async function findVfRepresentor(
  ctx: NicContext,
  pfPci: string,
  vfIndex: number,
  opts: RepresentorOptions = {},
): Promise<string | null> {
  assertIntInRange(vfIndex, 0, 65535, 'vfIndex');
  const pf = await resolvePfPci(ctx.sysfs, pfPci);
  if (!(await virtfnIndexes(ctx.sysfs, pf)).includes(vfIndex)) {
    throw new NotFoundError(`VF ${vfIndex} of ${pf}`, {
      message: `find representor of VF ${vfIndex} of ${pf}: the PF has no virtfn${vfIndex}`,
    });
  }
  const [netdevs, devlinkPorts] = await Promise.all([netdevsOf(ctx.sysfs, pf), ports(ctx)]);
  const reps = matchRepresentors(
    { pfPci: pf, netdevs, ports: devlinkPorts, vfIndexes: [vfIndex] },
    opts,
  );
  return reps.get(vfIndex) ?? null;
}
