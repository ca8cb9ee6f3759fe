import type {
  OffloadFacts,
  PfFact,
  PortEntry,
  PortFlows,
  PortVerdict,
  Reason,
  ReasonCode,
} from './types.js';
import type { Refusal, RefusalCause } from './vswitchd-log.js';

/**
 * Why a port is not offloaded, from what the node tells (OVS config, eswitch modes, where
 * the port sits) and from where its flows run. Only facts that are known give a reason: a
 * captured dump has no node facts, so its reasons come from the flows alone.
 */

export interface PortContext {
  /** The port's row (OVSDB live, ports file for a capture), or null when there is none. */
  entry: PortEntry | null;
  /** The port's name (or the number the dump printed). */
  name: string;
  /** The PF whose uplink, representor or netdev this is. */
  pf: PfFact | null;
  /** It is a VF representor or uplink the NIC inventory knows. */
  nicNetdev: boolean;
}

const reason = (code: ReasonCode, message: string, fix: string | null = null): Reason => ({
  code,
  message,
  fix,
});

/** Kernel netdevs (representors, veths): what TC can offload, unlike tunnels or taps. */
function isNetdevPort(entry: PortEntry | null): boolean {
  const t = entry?.type ?? null;
  return t === null || t === '' || t === 'system';
}

function placeReasons(ctx: PortContext, facts: OffloadFacts): Reason[] {
  const out: Reason[] = [];
  const { entry, name } = ctx;
  // Only OVSDB says a port is on no bridge; a ports file that omits the bridge says nothing.
  if (facts.ovs !== null && (entry ? entry.bridge === null : ctx.nicNetdev)) {
    out.push(
      reason(
        'not-on-bridge',
        `${name} is on no OVS bridge: OVS does not switch its traffic, so there is nothing to offload`,
        `ovs-vsctl add-port br-int ${name} (the agent does this at CNI ADD)`,
      ),
    );
  }
  if (entry?.error) {
    out.push(
      reason(
        'interface-error',
        `ovs-vswitchd cannot use ${name}: ${entry.error}`,
        entry.type === 'dpdk' ? dpdkErrorFix(entry, facts) : null,
      ),
    );
  }
  if (entry?.datapath?.startsWith('netdev@') && entry.type === 'system') {
    out.push(
      reason(
        'userspace-datapath',
        `${name} is a kernel netdev on the userspace datapath (${entry.datapath}): only DPDK ports are offloaded there`,
        'put representors on a bridge with datapath_type=system, where TC offloads them',
      ),
    );
  }
  return out;
}

/**
 * What to do about a DPDK port's Interface error. DPDK not initialised comes first: then no
 * devargs can be probed, whatever they say. "Error attaching device" is the PMD refusing the
 * devargs (netdev-dpdk's message): a PF it does not drive, or a representor form it does not
 * take.
 */
function dpdkErrorFix(entry: PortEntry, facts: OffloadFacts): string | null {
  const dpdk = facts.ovs?.dpdk;
  if (dpdk && dpdk.initialized === false) {
    return dpdk.init === 'true' || dpdk.init === 'try'
      ? 'DPDK did not initialise in ovs-vswitchd (dpdk_initialized=false): see ovs-vswitchd.log for the EAL error (hugepages, dpdk-socket-mem, a vswitchd built without DPDK)'
      : `other_config:dpdk-init is ${dpdk.init ?? 'not set'}: ovs-vsctl set Open_vSwitch . other_config:dpdk-init=true, then restart ovs-vswitchd`;
  }
  if (/Error attaching device/i.test(entry.error ?? '')) {
    const devargs = entry.dpdkDevargs ? ` '${entry.dpdkDevargs}'` : '';
    return `no DPDK PMD could probe the devargs${devargs}: check that the PF is bound to vfio-pci or is a bifurcated driver's (mlx5_core, xsc) in switchdev, and that the representor form is the one its PMD takes (representor=[N], representor=vfN, representor=pf0vfN: nics[].dpdkDevargs)`;
  }
  return null;
}

function eswitchReasons(ctx: PortContext, facts: OffloadFacts): Reason[] {
  const pfs = facts.nic?.pfs;
  if (!pfs) return [];
  const pf = ctx.pf;
  if (pf?.eswitchMode === 'legacy') {
    return [
      reason(
        'eswitch-legacy',
        `PF ${pf.pci} is in legacy eswitch mode: VFs have no representors and OVS flows cannot go into the NIC`,
        `devlink dev eswitch set pci/${pf.pci} mode switchdev (or eswitchMode: switchdev in the agent's nics[])`,
      ),
    ];
  }
  if (pf?.inactive) {
    return [
      reason(
        'eswitch-inactive',
        `PF ${pf.pci} is in switchdev mode but devlink reports it inactive (switchdev_inactive): the eswitch passes no traffic`,
      ),
    ];
  }
  if (pf || !isNetdevPort(ctx.entry)) return [];
  const switchdev = pfs.filter((p) => p.eswitchMode === 'switchdev');
  if (pfs.length > 0 && switchdev.length === 0) {
    const list = pfs.map((p) => `${p.pci} ${p.eswitchMode}`).join(', ');
    return [
      reason(
        'eswitch-legacy',
        `no SR-IOV PF of this node is in switchdev mode (${list}): there are no representors, nothing OVS switches can go into the NIC`,
        'devlink dev eswitch set pci/<PF> mode switchdev (or eswitchMode: switchdev in the agent config)',
      ),
    ];
  }
  if (switchdev.length > 0 && facts.ovs !== null) {
    return [
      reason(
        'not-a-representor',
        `${ctx.name} is not a VF representor or uplink of any switchdev PF of this node: a veth or tap port is switched in software`,
      ),
    ];
  }
  return [];
}

function hwOffloadReasons(facts: OffloadFacts): Reason[] {
  const ovs = facts.ovs;
  if (ovs === null || ovs.hwOffload === true) return [];
  const state = ovs.hwOffload === null ? 'is not set (OVS default: false)' : 'is false';
  return [
    reason(
      'hw-offload-off',
      `Open_vSwitch other_config:hw-offload ${state}: ovs-vswitchd puts no flow into the NIC`,
      'ovs-vsctl set Open_vSwitch . other_config:hw-offload=true, then restart ovs-vswitchd',
    ),
  ];
}

const n = (count: number, what: string) => `${count} ${what}${count === 1 ? '' : 's'}`;
/** "all 3 flows are" / "1 flow is": the subject of a sentence about flows. */
const flowsAre = (count: number, all: boolean) =>
  `${all && count > 1 ? 'all ' : ''}${n(count, 'flow')} ${count === 1 ? 'is' : 'are'}`;

function softwareReasons(flows: PortFlows, facts: OffloadFacts, entry: PortEntry | null): Reason[] {
  const dpdkPort = entry?.type === 'dpdk';
  const out: Reason[] = [];
  const { ovs, tc, dpdk } = flows.softwareDp;
  const all = (count: number) => count === flows.total;
  if (ovs > 0) {
    const hwOn = facts.ovs?.hwOffload === true;
    out.push(
      reason(
        'software-datapath',
        `${flowsAre(ovs, all(ovs))} in the OVS datapath (dp:ovs), not in the NIC` +
          (hwOn
            ? `; hw-offload is on, so the NIC or driver refused ${ovs === 1 ? 'it' : 'them'} (see ovs-vswitchd.log)`
            : ''),
        hwOn
          ? dpdkPort
            ? 'ovs-appctl dpctl/offload-stats-show, and ovs-vswitchd.log for rte_flow errors (vlog/set netdev_offload_dpdk:file:dbg; OVS >= 3.7: dpif_offload_dpdk)'
            : 'check ovs-vswitchd.log for offload errors and `ethtool -k <uplink|representor>` for hw-tc-offload: on'
          : null,
      ),
    );
  }
  if (tc > 0) {
    const skipHw = facts.ovs?.tcPolicy === 'skip_hw';
    out.push(
      reason(
        'tc-software',
        `${flowsAre(tc, all(tc))} in TC but not in hardware (dp:tc without offloaded:yes)` +
          (skipHw
            ? ': other_config:tc-policy=skip_hw keeps them out of the NIC'
            : ': the driver refused them (unsupported match or action, hw-tc-offload off)'),
        skipHw
          ? 'ovs-vsctl remove Open_vSwitch . other_config tc-policy, then restart ovs-vswitchd'
          : 'ethtool -K <uplink|representor> hw-tc-offload on; see ovs-vswitchd.log for the refusal',
      ),
    );
  }
  if (dpdk > 0) {
    out.push(
      reason(
        'dpdk-software',
        `${flowsAre(dpdk, all(dpdk))} in the DPDK PMD threads (dp:dpdk without offloaded:), not in the NIC: rte_flow refused them or hw-offload was off when they were installed`,
      ),
    );
  }
  return out;
}

/**
 * The conntrack leg stays in software while the port's other flows are in the NIC: the NIC,
 * driver or firmware does not offload `ct()` (ConnectX-5 without ct offload firmware, a
 * kernel without CONFIG_NET_TC_SKB_EXT), so every connection's packets take the slow path.
 */
function ctReasons(flows: PortFlows): Reason[] {
  const ct = flows.ct;
  const first = ct.firstSoftware;
  const others = flows.offloaded.flows - ct.offloaded;
  if (ct.software === 0 || others === 0 || first === null) return [];
  const zone = first.zone ?? ct.zones[0] ?? null;
  const zoneText = zone === null ? 'no zone printed' : `zone ${zone}`;
  return [
    {
      ...reason(
        'ct-not-offloaded',
        `the conntrack leg is in software: ${ct.software} of ${n(ct.all.flows, 'ct/recirc flow')} (${zoneText}; ${first.flow}) ` +
          `${ct.software === 1 ? 'runs' : 'run'} outside the NIC while ${others} other ${others === 1 ? 'flow is' : 'flows are'} offloaded: the NIC, driver or firmware does not offload ct()`,
        'use a NIC/firmware with conntrack offload (mlx5: ConnectX-6 Dx, or ConnectX-5 firmware with ct offload) and a kernel with CONFIG_NET_TC_SKB_EXT; ovs-vswitchd.log names the refusal ("ct_state not supported")',
      ),
      evidence: [first.flow, ...(zone === null ? [] : [`zone=${zone}`])],
    },
  ];
}

function flowReasons(
  name: string,
  verdict: PortVerdict,
  flows: PortFlows,
  facts: OffloadFacts,
  entry: PortEntry | null,
): Reason[] {
  const out: Reason[] = [];
  if (verdict === 'no-flows') {
    out.push(
      reason(
        'no-flows',
        `no datapath flow comes in on or goes out to ${name}: no traffic in the last ~10 s (idle flows expire), so nothing shows where it would run`,
        'send traffic through the port (e.g. ping from the pod) and check again within a few seconds',
      ),
    );
    return out;
  }
  if (verdict === 'partial' && flows.software.flows > 0) {
    out.push(
      reason(
        'some-software',
        `${flows.software.flows} of ${flows.total} flows (${flows.software.packets} packets) are switched in software`,
      ),
    );
  }
  out.push(...ctReasons(flows));
  out.push(...softwareReasons(flows, facts, entry));
  if (flows.partial.flows > 0) {
    out.push(
      reason(
        'partial-offload',
        `${flowsAre(flows.partial.flows, false)} partially offloaded (offloaded:partial): the NIC matches and marks packets, the actions run in software`,
      ),
    );
  }
  if (flows.unknown.flows > 0) {
    out.push(
      reason(
        'not-shown',
        `${n(flows.unknown.flows, 'flow')} ${flows.unknown.flows === 1 ? 'prints' : 'print'} neither offloaded: nor dp: (the dump was taken without -m): it does not show where ${flows.unknown.flows === 1 ? 'it runs' : 'they run'}, and type=offloaded alone proves nothing`,
        'ovs-appctl dpctl/dump-flows -m type=all',
      ),
    );
  }
  return out;
}

/** Every reason that applies to a port that is not (fully) offloaded; none when it is. */
export function reasonsFor(
  ctx: PortContext,
  verdict: PortVerdict,
  flows: PortFlows,
  facts: OffloadFacts,
): Reason[] {
  if (verdict === 'offloaded') return [];
  return [
    ...placeReasons(ctx, facts),
    ...eswitchReasons(ctx, facts),
    ...hwOffloadReasons(facts),
    ...flowReasons(ctx.name, verdict, flows, facts, ctx.entry),
  ];
}

export function verdictOf(flows: PortFlows): PortVerdict {
  if (flows.total === 0) return 'no-flows';
  if (flows.offloaded.flows === flows.total) return 'offloaded';
  if (flows.offloaded.flows + flows.partial.flows > 0) return 'partial';
  return flows.software.flows > 0 ? 'software' : 'unknown';
}

/** The reason code of each refusal cause the vswitchd log tells. */
const REFUSAL_CODES: Record<RefusalCause, ReasonCode> = {
  'unsupported-match': 'refused-match',
  'unsupported-action': 'refused-action',
  'ct-not-supported': 'refused-ct',
  'encap-not-supported': 'refused-encap',
  'hw-tc-offload-off': 'refused-hw-tc-offload',
  'driver-refused': 'refused-by-driver',
  'offload-failed': 'refused-flow',
};

const REFUSAL_WHAT: Record<RefusalCause, string> = {
  'unsupported-match': 'the flow matches on a field the NIC or OVS offload code cannot match',
  'unsupported-action': 'the flow has an action the NIC or OVS offload code cannot run',
  'ct-not-supported':
    'the flow uses conntrack (ct/recirc) and the driver or firmware does not offload it',
  'encap-not-supported': "the NIC cannot offload the flow's tunnel (encap/decap)",
  'hw-tc-offload-off': 'hw-tc-offload is off on the netdev',
  'driver-refused': 'the NIC driver refused the flow',
  'offload-failed': 'putting the flow into the NIC failed',
};

function refusalFix(cause: RefusalCause, dev: string, detail: string, facts: OffloadFacts): string {
  const policy = facts.ovs?.tcPolicy ?? null;
  const hwTc = `ethtool -K ${dev} hw-tc-offload on (check: ethtool -k ${dev} | grep hw-tc-offload)`;
  switch (cause) {
    case 'unsupported-match':
      return 'upgrade OVS, kernel and NIC firmware, or change the OpenFlow rules so datapath flows do not match on that field (pkt_mark, dp_hash, skb_priority, IPv6 fragments, several MPLS labels)';
    case 'unsupported-action':
      return 'upgrade OVS, kernel and NIC firmware, or avoid the action in the OpenFlow rules (e.g. dec_ttl or set_field before ct(), more actions than TC takes)';
    case 'ct-not-supported':
      return (
        'conntrack offload needs a driver and firmware with CT offload (mlx5: ConnectX-5 firmware with CT offload or ConnectX-6 Dx and later; kernel >= 5.x; OVS >= 2.15)' +
        (policy === 'skip_sw'
          ? '; and tc-policy=skip_sw breaks CT offload (TC software tables must exist): ovs-vsctl remove Open_vSwitch . other_config tc-policy'
          : '')
      );
    case 'encap-not-supported':
      return `check the tunnel type is one the driver offloads (VXLAN, Geneve with supported options), the underlay route leaves through the PF uplink, and ${hwTc}`;
    case 'hw-tc-offload-off':
      return hwTc;
    case 'driver-refused':
      return `the driver says why (${detail}); dmesg has the details. Check ${hwTc}`;
    case 'offload-failed':
      if (policy === 'skip_hw') {
        return 'other_config:tc-policy=skip_hw keeps flows out of the NIC: ovs-vsctl remove Open_vSwitch . other_config tc-policy, then restart ovs-vswitchd';
      }
      if (/No such file or directory/.test(detail)) {
        return `the ingress qdisc OVS adds to ${dev} is gone (tc qdisc show dev ${dev}; NetworkManager or another tool removed it): restart ovs-vswitchd or re-add the port`;
      }
      if (/No space left on device/.test(detail)) {
        return 'the NIC is out of flow resources: fewer or coarser datapath flows (max-idle), or a NIC with larger tables';
      }
      return `${hwTc}; for the cause, ovs-appctl vlog/set netdev_offload_tc:file:dbg (OVS >= 3.7: dpif_offload_tc_netdev), send traffic and check again; dmesg`;
  }
}

/**
 * Reasons from the refusals ovs-vswitchd logged for a port: one per cause, with the latest
 * line first in the evidence (up to 3 lines) and the fix for that cause.
 */
export function refusalReasons(
  name: string,
  refusals: readonly Refusal[],
  facts: OffloadFacts,
): Reason[] {
  const byCause = new Map<RefusalCause, Refusal[]>();
  for (const r of refusals) {
    const list = byCause.get(r.cause) ?? [];
    list.push(r);
    byCause.set(r.cause, list);
  }
  const out: Reason[] = [];
  for (const [cause, list] of byCause) {
    const latest = list[list.length - 1];
    if (!latest) continue;
    const count = list.length;
    out.push({
      code: REFUSAL_CODES[cause],
      message: `ovs-vswitchd.log: ${count === 1 ? 'a flow' : `${count} flows`} on ${name} refused (${latest.detail}): ${REFUSAL_WHAT[cause]}; latest: "${latest.line}"`,
      fix: refusalFix(cause, latest.netdev ?? name, latest.detail, facts),
      evidence: list
        .slice(-3)
        .reverse()
        .map((r) => r.line),
    });
  }
  return out;
}
