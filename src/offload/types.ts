import type { Counter, FlowLineError } from '../ovs/dpctl/index.js';
import type { PfEswitchMode } from '../vf/index.js';

/**
 * The offload verdict (docs/offload.md): which datapath flows of a port are switched in the
 * NIC, and why not when it can tell. `JSON.stringify(report)` is the `offload-check --json`
 * document, so field order and names here are a contract.
 */

/** One OVS port as the verdict sees it: from OVSDB + `dpif/show` live, or from a ports file. */
export interface PortEntry {
  /** Interface name: what `dump-flows -m`/`--names` print. */
  name: string;
  /** OpenFlow port number (OVSDB `ofport`). Dumps never print it: informational. */
  ofport: number | null;
  /** Datapath (odp) port number: what a dump without `-m`/`--names` prints. */
  odp: number | null;
  /** The bridge it is on; null live means "on no bridge", in a ports file "not told". */
  bridge: string | null;
  /** `namespace/name` from Interface external_ids pod_namespace/pod_name. */
  pod: string | null;
  /** The port's netdev type as `dpif/show` prints it (`system`, `tap`, `geneve`, `dpdk`…). */
  type: string | null;
  /** The datapath it sits in (`system@ovs-system`, `netdev@ovs-netdev`), from `dpif/show`. */
  datapath: string | null;
  /** ovs-vswitchd's Interface `error` ("could not open network device …"). */
  error: string | null;
  /** `options:dpdk-devargs` of a `type=dpdk` port: which PF (and VF) its PMD opened. */
  dpdkDevargs?: string | null;
}

export interface OvsFacts {
  /** `other_config:hw-offload`: null when the key is not set (OVS default: off). */
  hwOffload: boolean | null;
  tcPolicy: string | null;
  /** The Open_vSwitch row's DPDK state; absent when the node has no DPDK port (not read). */
  dpdk?: { init: string | null; initialized: boolean | null };
}

export interface PfFact {
  pci: string;
  eswitchMode: PfEswitchMode;
  /** devlink `switchdev_inactive`: representors exist, the eswitch passes no traffic. */
  inactive: boolean;
  uplink: string | null;
  /** VF representor netdevs (switchdev only). */
  representors: string[];
  /** Every netdev of the PF (uplink, representors, or its legacy netdev). */
  netdevs: string[];
}

/** What the verdict knows about the node; null parts are unknown (a captured dump). */
export interface OffloadFacts {
  ovs: OvsFacts | null;
  nic: { pfs: PfFact[] } | null;
}

/** Packets and bytes are summed exactly and printed by the §3.3 number rule. */
export interface FlowTotals {
  flows: number;
  packets: Counter;
  bytes: Counter;
}

export interface PortFlows {
  /** Flows that come in on the port or output to it (the `flows --port` rule). */
  total: number;
  /** `offloaded:yes`: switched in the NIC. */
  offloaded: FlowTotals;
  /** `offloaded:partial`: matched in the NIC, actions run in software (DPDK mark offload). */
  partial: FlowTotals;
  /** `-m` says where and it is not the NIC: `dp:ovs`, or `dp:tc`/`dp:dpdk` without `offloaded:`. */
  software: FlowTotals;
  /** The line has neither `offloaded:` nor `dp:` (a dump taken without `-m`). */
  unknown: FlowTotals;
  /** Software flows per datapath layer. */
  softwareDp: { ovs: number; tc: number; dpdk: number };
  /** Offloaded flows that print `packets:0`: NICs that do not report counters, not idle flows. */
  countersNotReported: number;
  /** The conntrack leg: the flows of the port that go through `ct(...)`/`recirc(...)`. */
  ct: CtFlows;
}

/**
 * Flows that take part in conntrack: a `ct(...)` or `recirc(...)` action, or a match on
 * `recirc_id` ≠ 0, a `ct_state` with a `+` flag or a non-zero value, or a non-zero `ct_zone`
 * (`-m` prints `ct_state(0/0)`, `ct_zone(0/0)` on every flow: those are wildcards, not ct).
 */
export interface CtFlows {
  all: FlowTotals;
  offloaded: number;
  partial: number;
  software: number;
  unknown: number;
  /** Zones seen (`ct(zone=N)` actions, `ct_zone(N)` matches), ascending, at most 16. */
  zones: number[];
  /** The first ct flow that stayed in software: `ufid:…` or the raw line, and its zone. */
  firstSoftware: { flow: string; zone: number | null } | null;
}

export type PortVerdict = 'offloaded' | 'partial' | 'software' | 'no-flows' | 'unknown';

export type ReasonCode =
  | 'hw-offload-off'
  | 'eswitch-legacy'
  | 'eswitch-inactive'
  | 'not-on-bridge'
  | 'interface-error'
  | 'not-a-representor'
  | 'userspace-datapath'
  | 'software-datapath'
  | 'tc-software'
  | 'dpdk-software'
  | 'some-software'
  | 'partial-offload'
  | 'no-flows'
  | 'not-shown'
  | 'ct-not-offloaded'
  // TC's own view disagrees with dpctl (src/offload/tc-filters.ts)
  | 'tc-filter-missing'
  | 'tc-not-in-hw'
  | 'tc-hw-counters-zero'
  // Refused flows: ovs-vswitchd's log says why (src/offload/vswitchd-log.ts)
  | 'refused-match'
  | 'refused-action'
  | 'refused-ct'
  | 'refused-encap'
  | 'refused-hw-tc-offload'
  | 'refused-by-driver'
  | 'refused-flow';

export interface Reason {
  code: ReasonCode;
  message: string;
  /** What to do about it, when there is one thing to do. */
  fix: string | null;
  /**
   * What shows it, short and verbatim where it can be: a flow (`ufid:…` or its line), a log
   * line, a TC filter. The first item keys the refusal counter (one count per new key).
   */
  evidence?: string[];
}

export interface PortReport {
  /** The interface name, or the number as the dump printed it when nothing maps it. */
  port: string;
  odp: number | null;
  ofport: number | null;
  bridge: string | null;
  pod: string | null;
  /** The PF whose uplink or representor this is. */
  pf: string | null;
  verdict: PortVerdict;
  flows: PortFlows;
  reasons: Reason[];
  /** TC's view of the port's ingress (kernel datapath, live or --tc-dir); absent when not read. */
  tc?: TcPortView;
}

/** `tc -s -j filter show dev PORT ingress` summed up and joined with the port's dp:tc flows. */
export interface TcPortView {
  filters: number;
  inHw: number;
  notInHw: number;
  skipHw: number;
  /** dp:tc flows that come in on the port (what TC should hold on its ingress). */
  tcFlows: number;
  /** Of those, offloaded flows whose ufid no filter cookie carries. */
  missing: number;
}

/** One counter of `dpctl/offload-stats-show`. */
export interface OffloadStatsCounter {
  /** The provider label of newer OVS (`dpdk[netdev@ovs-netdev]`), null in 2.16–3.x output. */
  section: string | null;
  /** Offload thread number, 'total' for the aggregate line, null when per provider. */
  thread: number | 'total' | null;
  name: string;
  value: number | string;
}

export interface OffloadStats {
  /** The `HW Offload stats:` header was seen. */
  header: boolean;
  counters: OffloadStatsCounter[];
  unparsed: string[];
}

export type OverallVerdict = 'offloaded' | 'not-offloaded' | 'no-ports';

export interface OffloadReport {
  source: 'live' | 'dump';
  /** offloaded: every port reported is offloaded (exit 0). */
  verdict: OverallVerdict;
  ports: PortReport[];
  summary: {
    ports: number;
    offloadedPorts: number;
    /** Every flow of the dump, on any port. */
    flows: PortFlows;
  };
  facts: OffloadFacts;
  /** Things worth knowing that belong to no port (unmapped numbers, unreadable sysfs…). */
  notes: string[];
  /** Lines of the dump that were not flows (§3.3 errors), the first few and how many. */
  parseErrors: { count: number; first: FlowLineError[] };
  /**
   * `ovs-appctl dpctl/offload-stats-show` of a userspace (DPDK) datapath node: per offload
   * thread enqueued/inserted counts. Absent when the node has no netdev datapath port.
   */
  offloadStats?: OffloadStats;
}

/** Which ports to report: one port, one pod's ports, or the default set. */
export type Selection = { port: string } | { pod: string } | Record<string, never>;
