import type { ResourceConfig } from './config.js';
import { expectsNetdev, type PfState, type PoolDevice } from './model.js';
import type { PoolMember } from './pools.js';
import { HEALTHY, UNHEALTHY, type Device, type Health } from './proto.js';

/**
 * Device health as the kubelet sees it. A VF is judged by what makes it unusable for a pod,
 * never by its own carrier: a free VF stays NO-CARRIER until its representor is brought up
 * (switchdev), and a VF in a pod or on vfio-pci has no host netdev to read at all.
 */

export interface HealthVerdict {
  health: Health;
  /** Why it is Unhealthy (for logs and status), null when Healthy. */
  reason: string | null;
}

export function deviceHealth(
  dev: PoolDevice,
  pf: PfState | undefined,
  opts: { requireSwitchdev: boolean; allocated: boolean },
): HealthVerdict {
  if (!pf) return { health: UNHEALTHY, reason: `PF ${dev.pfPci} not found` };
  const link = linkVerdict(pf);
  if (link) return link;
  // A DPDK-owned PF offloads through its PMD's representors: switchdev in all but name.
  if (opts.requireSwitchdev && pf.eswitchMode !== 'switchdev' && pf.eswitchMode !== 'dpdk') {
    return {
      health: UNHEALTHY,
      reason: `PF ${pf.pci} eswitch is ${pf.eswitchMode ?? 'unknown'}, pool requires switchdev`,
    };
  }
  // A free VF on a kernel driver must have its netdev on the host: if it vanished (moved away
  // behind our back, driver failure), a pod given this VF would fail to start.
  if (!opts.allocated && expectsNetdev(dev.driver) && dev.netdev === null) {
    return { health: UNHEALTHY, reason: `VF ${dev.pci} netdev vanished while not allocated` };
  }
  return { health: HEALTHY, reason: null };
}

/**
 * The physical port's link: the uplink netdev's, or for a DPDK-owned PF (no netdev, no
 * carrier) the link_state of the OVS DPDK port that opened it. null: link is fine or not judged.
 */
function linkVerdict(pf: PfState): HealthVerdict | null {
  const d = pf.dpdkUplink;
  if (d) {
    if (!d.known) return null;
    if (d.port === null) {
      return {
        health: UNHEALTHY,
        reason: `PF ${pf.pci} is DPDK-owned and no OVS DPDK port opens it (options:dpdk-devargs=${pf.pci}): its physical port is not switched`,
      };
    }
    if (d.linkState !== 'up') {
      return {
        health: UNHEALTHY,
        reason: `PF ${pf.pci} DPDK port ${d.port} link_state is ${d.linkState ?? 'unknown'}`,
      };
    }
    return null;
  }
  if (!pf.linkUp) {
    return { health: UNHEALTHY, reason: `PF ${pf.uplink ?? pf.pci} uplink is down` };
  }
  return null;
}

export interface PoolDeviceState {
  member: PoolMember;
  verdict: HealthVerdict;
}

export function poolStates(
  members: readonly PoolMember[],
  pfs: ReadonlyMap<string, PfState>,
  resource: Pick<ResourceConfig, 'requireSwitchdev'>,
  allocated: ReadonlySet<string>,
): PoolDeviceState[] {
  return members.map((member) => ({
    member,
    verdict: deviceHealth(member.device, pfs.get(member.device.pfPci), {
      requireSwitchdev: resource.requireSwitchdev,
      allocated: allocated.has(member.device.pci),
    }),
  }));
}

/** The ListAndWatch device list: sorted by ID, NUMA topology unless excluded. */
export function toApiDevices(
  states: readonly PoolDeviceState[],
  resource: Pick<ResourceConfig, 'excludeTopology'>,
): Device[] {
  return states.map(({ member: { device }, verdict }) => ({
    ID: device.pci,
    health: verdict.health,
    topology:
      resource.excludeTopology || device.numa === null || device.numa < 0
        ? null
        : { nodes: [{ ID: device.numa }] },
  }));
}

/** Whether two device lists say the same thing to the kubelet. */
export function sameDevices(a: readonly Device[], b: readonly Device[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((d, i) => {
    const e = b[i];
    return (
      e !== undefined &&
      d.ID === e.ID &&
      d.health === e.health &&
      (d.topology?.nodes[0]?.ID ?? null) === (e.topology?.nodes[0]?.ID ?? null)
    );
  });
}
