import {
  assertIntInRange,
  CommandError,
  NotSupportedError,
  type CommandRunner,
  type Ip,
} from '../sys/index.js';
import { askDevlink, parsePortShow, PORT_SHOW_ARGS, type DevlinkPort } from './devlink.js';
import { validateKnobs } from './knob-types.js';
import { readVfKnobs, vfKnobsArgs } from './knobs.js';

/**
 * A VF's administrative MAC: the address the eswitch (or the legacy VEB) gives the VF, which
 * its driver adopts and which the NIC enforces with spoof checking. Kube-OVN sets it on every
 * SR-IOV pod, switchdev included (pkg/daemon/ovs_linux.go setupSriovInterface → setVfMac:
 * `netlink.LinkSetVfHardwareAddr(pfLink, vfIndex, mac)`), and writes 00:00:00:00:00:00 on
 * delete (deleteNic), which is what a fresh VF has.
 *
 * Two doors lead to it in switchdev: the PF's `ip link set PF vf N mac …` (IFLA_VF_MAC) and
 * devlink's `port function set <port> hw_addr …`. The PF comes first: it is what Kube-OVN
 * uses, one fork, the same attribute vfinfo_list reads back (so the value we restore is read
 * through the door we write it), and every SR-IOV driver that has a legacy mode has it (mlx5
 * keeps it in switchdev: both doors end in the same vport context). devlink is the fallback for
 * eswitch managers that refuse VF ndo ops in switchdev or have no PF netdev to call them on
 * (SmartNIC/DPU-style managers, where the port function is the only interface), and costs a
 * `devlink port show` to find the VF's port first.
 */

export interface AdminMacTarget {
  pfPci: string;
  /** The PF netdev (the uplink in switchdev); null when it has none. */
  pfNetdev: string | null;
  vfIndex: number;
}

export type AdminMacVia = 'pf' | 'devlink';

/** The VF's administrative MAC as the PF lists it (vfinfo_list); null when it lists none. */
export async function readVfAdminMac(
  ip: Ip,
  pfNetdev: string,
  vfIndex: number,
): Promise<string | null> {
  return (await readVfKnobs(ip, pfNetdev, vfIndex)).mac ?? null;
}

/** The devlink port of VF `vfIndex` of the PF on this host (controller 0), or null. */
export async function vfDevlinkPort(
  runner: CommandRunner,
  pfPci: string,
  vfIndex: number,
): Promise<DevlinkPort | null> {
  const ports = parsePortShow(await askDevlink(runner, PORT_SHOW_ARGS));
  return (
    ports.find(
      (p) =>
        p.device === `pci/${pfPci}` &&
        p.flavour === 'pcivf' &&
        (p.controller === null || p.controller === 0) &&
        p.external !== true &&
        p.vfnum === vfIndex,
    ) ?? null
  );
}

/**
 * Sets the VF's administrative MAC through the PF, falling back to devlink's port function
 * when the PF refuses (or has no netdev). A timeout is not a refusal: it is thrown as is.
 */
export async function setVfAdminMac(
  ip: Ip,
  runner: CommandRunner,
  vf: AdminMacTarget,
  mac: string,
): Promise<AdminMacVia> {
  assertIntInRange(vf.vfIndex, 0, 65535, 'vfIndex');
  const want = validateKnobs({ mac }).mac ?? mac;
  let refused: CommandError | null = null;
  if (vf.pfNetdev) {
    try {
      await ip.run(null, vfKnobsArgs(vf.pfNetdev, vf.vfIndex, { mac: want }));
      return 'pf';
    } catch (err) {
      if (!(err instanceof CommandError) || err.timedOut) throw err;
      refused = err;
    }
  }
  const port = await vfDevlinkPort(runner, vf.pfPci, vf.vfIndex);
  if (!port) {
    if (refused) throw refused;
    throw new NotSupportedError('VF administrative MAC', {
      message: `set MAC of VF ${vf.vfIndex} of ${vf.pfPci}: the PF has no netdev and devlink lists no port for the VF`,
    });
  }
  try {
    await runner.run(['devlink', 'port', 'function', 'set', port.handle, 'hw_addr', want]);
  } catch (err) {
    // Both doors refused: the PF's answer says more when there was one.
    if (refused && err instanceof CommandError && !err.timedOut) throw refused;
    throw err;
  }
  return 'devlink';
}
