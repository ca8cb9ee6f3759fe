/**
 * The `ovs-offload flows --json` contract (DESIGN.md §3.3). Every field of DpFlow is a field
 * of the JSON object, in the same order, so `JSON.stringify(flow)` is the contract.
 */

/** A packet or byte counter: a JSON number, or a decimal string above 2^53−1 (OVS prints u64). */
export type Counter = number | string;

/** One top-level datapath action: `ct(zone=4,nat)` → {name:"ct", args:"zone=4,nat"}. */
export interface DpAction {
  name: string;
  /** The text inside the parentheses, or null for a bare word. */
  args: string | null;
}

export type DpLayer = 'tc' | 'ovs' | 'dpdk';
export type Offloaded = 'yes' | 'partial';

export interface DpFlow {
  /** The `in_port(...)` text: a datapath port number (`"2"`) or, with `--names`/`-m`, a name. */
  inPort: string | null;
  /** Without the `ufid:` prefix; only `-m` prints it. */
  ufid: string | null;
  packets: Counter;
  bytes: Counter;
  /** Seconds since the flow last matched; null for `used:never`. */
  used: number | null;
  /** Only `-m` prints `dp:`. */
  dp: DpLayer | null;
  /** Exactly as printed; only `-m` prints it, so a `type=offloaded` dump without `-m` has null. */
  offloaded: Offloaded | null;
  /** Top-level match fields in order of appearance: name → text inside its parentheses. */
  match: Record<string, string>;
  actions: DpAction[];
  dpExtraInfo: string | null;
  /** Any other `key:value` on the line (vendor `offload_packets`, OVS `flags`), as strings. */
  extra: Record<string, string>;
  /** The line as read, without CR/LF. */
  raw: string;
}

/** A line that is neither a flow nor skippable (header, blank, `#` comment). */
export interface FlowLineError {
  /** 1-based line number in the input. */
  line: number;
  message: string;
  raw: string;
}

export interface FlowSummary {
  flows: number;
  packets: Counter;
  bytes: Counter;
  /** Flows whose `offloaded` is yes or partial. */
  offloaded: number;
}

/** The whole `flows --json` document. */
export interface FlowDump {
  flows: DpFlow[];
  summary: FlowSummary;
  errors: FlowLineError[];
}
