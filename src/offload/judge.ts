import { portNumber, type DpFlow, type FlowLineError } from '../ovs/dpctl/index.js';
import { parseDpdkDevargs } from '../representor/index.js';
import { NotFoundError } from '../sys/index.js';
import { reasonsFor, refusalReasons, verdictOf } from './reasons.js';
import { FlowAccumulator, PortTally } from './tally.js';
import type {
  OffloadFacts,
  OffloadReport,
  OverallVerdict,
  PfFact,
  PortEntry,
  PortReport,
  Selection,
} from './types.js';
import type { LogScan, Refusal } from './vswitchd-log.js';

/**
 * The verdict: joins the per-port tally of a dump with the port table (names, datapath
 * numbers, pods) and the node facts. Pure: the same inputs give the same report.
 */

export interface JudgeOptions {
  select?: Selection;
  source?: 'live' | 'dump';
  /** Notes from whoever gathered the inputs (sysfs unreadable, …), kept in the report. */
  notes?: readonly string[];
  /**
   * Offload refusals read from ovs-vswitchd's log, and which port each ufid the log names
   * comes in on in the dump (ufid → in_port as printed), to attribute them.
   */
  vswitchdLog?: { scan: LogScan; ufidPorts?: ReadonlyMap<string, string> };
}

/** Ports that never carry offloadable traffic: the bridge's own (LOCAL) port, patch ports. */
const NEVER_OFFLOADED_TYPES = new Set(['internal', 'tap', 'patch']);

interface Resolved {
  entry: PortEntry | null;
  acc: FlowAccumulator;
}

class PortIndex {
  readonly byName = new Map<string, PortEntry>();
  private readonly byOdp = new Map<number, PortEntry | null>();
  readonly nic = new Map<string, PfFact>();

  constructor(
    readonly entries: readonly PortEntry[],
    facts: OffloadFacts,
  ) {
    for (const e of entries) {
      this.byName.set(e.name, e);
      if (e.odp === null) continue;
      const prior = this.byOdp.get(e.odp);
      // Two datapaths (system and netdev) number their ports independently: a number that
      // names two ports names neither.
      this.byOdp.set(e.odp, prior === undefined || prior?.name === e.name ? e : null);
    }
    for (const pf of facts.nic?.pfs ?? []) {
      for (const d of pf.netdevs) this.nic.set(d, pf);
      this.byPci.set(pf.pci, pf);
    }
  }

  private readonly byPci = new Map<string, PfFact>();

  /**
   * The PF of a port: a netdev of it, or a DPDK port whose devargs name its PCI address
   * (a PMD-owned port has no netdev to look up).
   */
  pfOf(name: string, entry: PortEntry | null): PfFact | null {
    const byNetdev = this.nic.get(name);
    if (byNetdev) return byNetdev;
    const d = entry?.dpdkDevargs ? parseDpdkDevargs(entry.dpdkDevargs) : null;
    return d?.pci ? (this.byPci.get(d.pci) ?? null) : null;
  }

  /** The entry a token (name, or datapath number as printed) stands for. */
  lookup(token: string): PortEntry | undefined {
    const byName = this.byName.get(token);
    if (byName) return byName;
    const n = portNumber(token);
    return n === null ? undefined : (this.byOdp.get(n) ?? undefined);
  }

  get hasOdp(): boolean {
    return this.byOdp.size > 0;
  }
}

function resolveTokens(tally: PortTally, index: PortIndex, notes: string[]): Map<string, Resolved> {
  const out = new Map<string, Resolved>();
  const unmapped: string[] = [];
  for (const token of tally.tokens()) {
    const acc = tally.port(token);
    if (!acc) continue;
    const entry = index.lookup(token) ?? null;
    if (!entry && portNumber(token) !== null) unmapped.push(token);
    const key = entry?.name ?? token;
    let r = out.get(key);
    if (!r) {
      r = { entry, acc: new FlowAccumulator() };
      out.set(key, r);
    }
    r.acc.merge(acc);
  }
  if (unmapped.length > 0) {
    notes.push(
      `the dump prints datapath port numbers (${unmapped.join(', ')}) that no port maps: ` +
        (index.hasOdp
          ? 'they are not in the port table'
          : 'give --ports with "odp" numbers or the output of `ovs-appctl dpif/show` (OpenFlow ofport numbers are not datapath numbers)'),
    );
  }
  return out;
}

/** A DPDK port that is a host-local VF representor (its devargs say `representor=`). */
export function isDpdkRepresentor(e: PortEntry): boolean {
  if (!e.dpdkDevargs) return false;
  const r = parseDpdkDevargs(e.dpdkDevargs)?.representor ?? null;
  return r !== null && r.hostLocal;
}

function isDefaultSubject(e: PortEntry, index: PortIndex): boolean {
  if (e.pod !== null) return true;
  if (isDpdkRepresentor(e)) return true;
  const pf = index.nic.get(e.name);
  return pf !== undefined && pf.representors.includes(e.name);
}

/** The ports to report, by key (a name, or an unmapped number as printed). */
function subjects(
  select: Selection,
  index: PortIndex,
  resolved: Map<string, Resolved>,
  notes: string[],
): string[] {
  if ('port' in select) {
    const e = index.lookup(select.port);
    const key = e?.name ?? select.port;
    if (!e && !resolved.has(key) && !index.nic.has(key)) {
      throw new NotFoundError(`port ${select.port}`, {
        message: `port ${select.port}: not in OVS, the NIC or the dump`,
      });
    }
    return [key];
  }
  if ('pod' in select) {
    const ports = index.entries.filter((e) => e.pod === select.pod).map((e) => e.name);
    if (ports.length === 0) {
      throw new NotFoundError(`pod ${select.pod}`, {
        message: `pod ${select.pod}: no port has external_ids pod_namespace/pod_name for it`,
      });
    }
    return ports;
  }
  const chosen = index.entries.filter((e) => isDefaultSubject(e, index)).map((e) => e.name);
  if (chosen.length > 0) return chosen;
  const seen = [...resolved.entries()]
    .filter(([, r]) => !NEVER_OFFLOADED_TYPES.has(r.entry?.type ?? ''))
    .map(([k]) => k);
  if (seen.length === 0) {
    notes.push(
      'no pod ports (Interface external_ids pod_name/pod_namespace), no VF representors on OVS and no flows: nothing to check',
    );
  }
  return seen;
}

function report(
  key: string,
  resolved: Resolved | undefined,
  index: PortIndex,
  facts: OffloadFacts,
  refused: readonly Refusal[] = [],
): PortReport {
  const entry = resolved?.entry ?? index.byName.get(key) ?? null;
  const flows = (resolved?.acc ?? new FlowAccumulator()).get();
  const verdict = verdictOf(flows);
  const pf = index.pfOf(key, entry);
  const ctx = { entry, name: key, pf, nicNetdev: pf !== null };
  return {
    port: key,
    odp: entry?.odp ?? portNumber(key),
    ofport: entry?.ofport ?? null,
    bridge: entry?.bridge ?? null,
    pod: entry?.pod ?? null,
    pf: pf?.pci ?? null,
    verdict,
    flows,
    reasons: [
      ...reasonsFor(ctx, verdict, flows, facts),
      ...(verdict === 'offloaded' ? [] : refusalReasons(key, refused, facts)),
    ],
  };
}

/**
 * Which reported port each logged refusal is about: the netdev it names (a representor),
 * else the in_port of the dump's flow with the ufid it names, else a port name among its
 * words. Refusals about no reported port, and rate-limited ones, become notes.
 */
function attributeRefusals(
  log: JudgeOptions['vswitchdLog'],
  index: PortIndex,
  keys: readonly string[],
  notes: string[],
): Map<string, Refusal[]> {
  const out = new Map<string, Refusal[]>();
  if (!log) return out;
  const wanted = new Set(keys);
  const named = (token: string | null | undefined): string | null => {
    if (token === null || token === undefined) return null;
    const key = index.lookup(token)?.name ?? token;
    return wanted.has(key) ? key : null;
  };
  const elsewhere: Refusal[] = [];
  for (const r of log.scan.refusals) {
    const key =
      named(r.netdev) ??
      named(r.ufid === null ? null : log.ufidPorts?.get(r.ufid)) ??
      r.words.map((w) => (wanted.has(w) ? w : null)).find((k) => k !== null) ??
      null;
    if (key === null) {
      elsewhere.push(r);
      continue;
    }
    const list = out.get(key) ?? [];
    list.push(r);
    out.set(key, list);
  }
  const first = elsewhere[elsewhere.length - 1];
  if (first) {
    notes.push(
      `ovs-vswitchd.log: ${elsewhere.length} offload refusal${elsewhere.length === 1 ? '' : 's'} about no port checked here; latest: "${first.line}"`,
    );
  }
  if (log.scan.suppressed > 0) {
    notes.push(
      `ovs-vswitchd.log: the rate limiter dropped ${log.scan.suppressed} offload log message${log.scan.suppressed === 1 ? '' : 's'}: more flows may have been refused than the log shows`,
    );
  }
  return out;
}

function toTally(flows: PortTally | Iterable<DpFlow | FlowLineError>): PortTally {
  if (flows instanceof PortTally) return flows;
  const tally = new PortTally();
  for (const f of flows) tally.push(f);
  return tally;
}

/**
 * The offload verdict per port. `flows` is a tally (folded from a stream by tallyFlows or
 * gatherLive) or, for small inputs, the parsed flows themselves. Throws NotFoundError when
 * the port or pod asked for is nowhere to be found.
 */
export function judgePorts(
  flows: PortTally | Iterable<DpFlow | FlowLineError>,
  ports: readonly PortEntry[],
  facts: OffloadFacts,
  opts: JudgeOptions = {},
): OffloadReport {
  const tally = toTally(flows);
  const notes = [...(opts.notes ?? [])];
  const index = new PortIndex(ports, facts);
  const resolved = resolveTokens(tally, index, notes);
  const keys = subjects(opts.select ?? {}, index, resolved, notes);
  const refused = attributeRefusals(opts.vswitchdLog, index, keys, notes);
  const reports = keys.map((k) => report(k, resolved.get(k), index, facts, refused.get(k)));
  const offloadedPorts = reports.filter((r) => r.verdict === 'offloaded').length;
  const verdict: OverallVerdict =
    reports.length === 0
      ? 'no-ports'
      : offloadedPorts === reports.length
        ? 'offloaded'
        : 'not-offloaded';
  return {
    source: opts.source ?? (facts.ovs === null ? 'dump' : 'live'),
    verdict,
    ports: reports,
    summary: { ports: reports.length, offloadedPorts, flows: tally.all.get() },
    facts,
    notes,
    parseErrors: { count: tally.errorCount, first: [...tally.errors] },
  };
}

/** The `offload-check` exit code: 0 only when every port reported is offloaded. */
export function exitCodeOf(report: OffloadReport): 0 | 1 {
  return report.verdict === 'offloaded' ? 0 : 1;
}
