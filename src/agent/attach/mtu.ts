import { z } from 'zod';
import { InvalidInputError, type Ip } from '../../sys/index.js';

/**
 * The pod interface's MTU, decided the way Kube-OVN decides it, with the NetConf first:
 *
 *   1. NetConf `mtu` (the network admin said so);
 *   2. the Kube-OVN Subnet's `spec.mtu` when > 0 (kube-ovn pkg/daemon/handler.go
 *      handleAdd: `if podSubnet.Spec.Mtu > 0 { mtu = int(podSubnet.Spec.Mtu) }`);
 *   3. on an OVN-managed node, derived from the tunnel: the MTU of the interface holding the
 *      encap IP minus the encapsulation's overhead, 20 more for an IPv6 encap address (kube-ovn
 *      pkg/daemon/config.go initNicConfig, the daemon's `--mtu 0` default), capped at the PF
 *      uplink's MTU, since a VF cannot send more than its port carries;
 *   4. the VF's own MTU (nothing is set).
 *
 * An explicit value (1 or 2) above the uplink's MTU is refused: the VF could never send it,
 * and mlx5 would refuse it anyway, after the VF had moved.
 */

/** Bytes the tunnel header takes, as Kube-OVN counts them (pkg/util/const.go *HeaderLength). */
const ENCAP_OVERHEAD: Readonly<Record<string, number>> = {
  geneve: 100,
  vxlan: 50,
  stt: 72,
};

/** IPv6's header is 20 bytes longer than IPv4's (kube-ovn config.go initNicConfig: `-= 20`). */
const IPV6_EXTRA = 20;

/** The smallest MTU an Ethernet interface takes (IPv4's 68 would starve IPv6 and ARP). */
const MIN_MTU = 68;

export type MtuSource = 'netconf' | 'subnet' | 'encap' | 'vf';

export interface OvnEncap {
  /** `external_ids:ovn-encap-type` (first of a list). */
  type: string;
  /** The first address of `external_ids:ovn-encap-ip`. */
  ip: string;
  /** The interface holding it and its MTU, null when no interface here has it. */
  link: { name: string; mtu: number } | null;
}

export interface MtuInputs {
  /** NetConf `mtu`. */
  netconf?: number | undefined;
  /** The Kube-OVN Subnet's `spec.mtu` (name for messages). */
  subnet?: { name: string; mtu: number } | null | undefined;
  /** OVN's encapsulation; only for an OVN-managed node in offload mode (else null). */
  encap?: OvnEncap | null | undefined;
  /** MTU of the PF's uplink (switchdev) or PF netdev (legacy); null when unknown. */
  uplinkMtu: number | null;
  /** The VF netdev's MTU now; null for a VF without netdev (vfio-pci). */
  vfMtu: number | null;
}

export interface MtuDecision {
  /** The MTU to set on the VF and as the representor's mtu_request; null: leave as it is. */
  mtu: number | null;
  source: MtuSource;
  /** Why, for the log. */
  why: string;
}

/** Overhead of an OVN encapsulation type, or null for one Kube-OVN does not know. */
export function encapOverhead(type: string, ipv6: boolean): number | null {
  const base = ENCAP_OVERHEAD[type.trim().toLowerCase()];
  return base === undefined ? null : base + (ipv6 ? IPV6_EXTRA : 0);
}

function refuseAboveUplink(field: string, mtu: number, uplinkMtu: number | null): void {
  if (uplinkMtu !== null && mtu > uplinkMtu) {
    throw new InvalidInputError(
      field,
      `${mtu} is above the PF uplink's MTU ${uplinkMtu}: the VF cannot send frames its port does not carry (raise the uplink's MTU first)`,
    );
  }
}

/** NetConf `mtu` alone, checked before anything changes on the host. */
export function checkNetconfMtu(mtu: number | undefined, uplinkMtu: number | null): void {
  if (mtu !== undefined) refuseAboveUplink('mtu', mtu, uplinkMtu);
}

/** The precedence above, as a pure function of what was read. */
export function decideMtu(i: MtuInputs): MtuDecision {
  if (i.netconf !== undefined) {
    refuseAboveUplink('mtu', i.netconf, i.uplinkMtu);
    return { mtu: i.netconf, source: 'netconf', why: 'NetConf mtu' };
  }
  if (i.subnet && i.subnet.mtu > 0) {
    refuseAboveUplink(`Subnet ${i.subnet.name} spec.mtu`, i.subnet.mtu, i.uplinkMtu);
    return { mtu: i.subnet.mtu, source: 'subnet', why: `Subnet ${i.subnet.name} spec.mtu` };
  }
  if (i.encap?.link) {
    const overhead = encapOverhead(i.encap.type, i.encap.ip.includes(':'));
    if (overhead !== null) {
      const derived = i.encap.link.mtu - overhead;
      const capped = i.uplinkMtu !== null ? Math.min(derived, i.uplinkMtu) : derived;
      if (capped >= MIN_MTU) {
        return {
          mtu: capped,
          source: 'encap',
          why:
            `${i.encap.link.name} (${i.encap.ip}) MTU ${i.encap.link.mtu} - ${overhead} (${i.encap.type})` +
            (capped < derived ? `, capped at the uplink's ${i.uplinkMtu}` : ''),
        };
      }
    }
  }
  return { mtu: null, source: 'vf', why: "the VF's own MTU" };
}

/** The first entry of a comma-separated external_ids value (OVN takes lists for both keys). */
function first(v: string | undefined): string | null {
  const f = v?.split(',')[0]?.trim();
  return f ? f : null;
}

const AddrShowSchema = z.array(
  z.looseObject({
    ifname: z.string(),
    mtu: z.number().int().optional(),
    addr_info: z.array(z.looseObject({ local: z.string().optional() })).optional(),
  }),
);

/**
 * The interface that holds `address` in the agent's netns and its MTU (`ip -j addr show`),
 * as kube-ovn pkg/daemon/config_linux.go getIfaceByIP finds the tunnel interface.
 */
export async function linkHoldingAddress(
  ip: Ip,
  address: string,
): Promise<{ name: string; mtu: number } | null> {
  const parsed = AddrShowSchema.safeParse(await ip.json(null, ['addr', 'show']));
  if (!parsed.success) return null;
  const want = address.toLowerCase();
  for (const l of parsed.data) {
    if (l.mtu === undefined) continue;
    if ((l.addr_info ?? []).some((a) => a.local?.toLowerCase() === want))
      return { name: l.ifname, mtu: l.mtu };
  }
  return null;
}

/**
 * OVN's encapsulation from the Open_vSwitch row's external_ids, with the interface holding
 * the encap address; null when OVN does not manage this node (no `ovn-remote`) or no encap
 * address is configured.
 */
export async function readOvnEncap(
  ip: Ip,
  externalIds: Readonly<Record<string, string>>,
): Promise<OvnEncap | null> {
  if (!externalIds['ovn-remote']) return null;
  const encapIp = first(externalIds['ovn-encap-ip']);
  if (encapIp === null) return null;
  return {
    type: first(externalIds['ovn-encap-type']) ?? 'geneve',
    ip: encapIp,
    link: await linkHoldingAddress(ip, encapIp),
  };
}
