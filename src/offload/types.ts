import type { Counter, FlowLineError } from '../ovs/dpctl/index.js';
import type { EswitchMode } from '../vf/index.js';

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
}

export interface OvsFacts {
  /** `other_config:hw-offload`: null when the key is not set (OVS default: off). */
  hwOffload: boolean | null;
  tcPolicy: string | null;
}

export interface PfFact {
  pci: string;
  eswitchMode: EswitchMode;
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
  | 'not-shown';

export interface Reason {
  code: ReasonCode;
  message: string;
  /** What to do about it, when there is one thing to do. */
  fix: string | null;
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
}

/** Which ports to report: one port, one pod's ports, or the default set. */
export type Selection = { port: string } | { pod: string } | Record<string, never>;
