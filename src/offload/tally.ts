import {
  CounterSum,
  isFlowLineError,
  outputPorts,
  type Counter,
  type DpFlow,
  type FlowLineError,
} from '../ovs/dpctl/index.js';
import type { CtFlows, FlowTotals, PortFlows } from './types.js';

export type FlowClass = 'offloaded' | 'partial' | 'software' | 'unknown';

/**
 * Where a flow runs. OVS prints `offloaded:` only when the NIC holds the flow and `dp:` only
 * with `-m`, so a line with neither says nothing: it is never taken as proof of offload
 * (a `type=offloaded` dump without `-m` looks exactly like that).
 */
export function classifyFlow(flow: DpFlow): FlowClass {
  if (flow.offloaded === 'yes') return 'offloaded';
  if (flow.offloaded === 'partial') return 'partial';
  return flow.dp === null ? 'unknown' : 'software';
}

/** A `recirc_id`/`ct_zone`/`ct_state` value (`0x2d277`, `5/0xffff`): its value part, 0 if unreadable. */
function matchValue(text: string): number {
  const v = Number((text.split('/')[0] ?? '').trim());
  return Number.isFinite(v) ? v : 0;
}

/**
 * Whether a flow is part of the conntrack leg (CtFlows), and the zone it names: the
 * `ct(zone=N)` action's, else a non-zero `ct_zone(N)` match's.
 */
export function ctLeg(flow: DpFlow): { zone: number | null } | null {
  let ct = false;
  let zone: number | null = null;
  for (const a of flow.actions) {
    if (a.name === 'recirc') ct = true;
    if (a.name !== 'ct') continue;
    ct = true;
    const m = /(?:^|,)zone=(\d+)/.exec(a.args ?? '');
    if (m && zone === null) zone = Number(m[1]);
  }
  const { recirc_id: recirc, ct_state: state, ct_zone: ctZone } = flow.match;
  if (recirc !== undefined && matchValue(recirc) !== 0) ct = true;
  if (state !== undefined && (state.includes('+') || matchValue(state) !== 0)) ct = true;
  if (ctZone !== undefined && matchValue(ctZone) !== 0) {
    ct = true;
    zone ??= matchValue(ctZone);
  }
  return ct ? { zone } : null;
}

/** `ufid:…` when the dump has it (`-m`), else the line itself, cut to a readable length. */
export function flowRef(flow: DpFlow): string {
  if (flow.ufid !== null) return `ufid:${flow.ufid}`;
  return flow.raw.length > 240 ? `${flow.raw.slice(0, 237)}...` : flow.raw;
}

const KEPT_ZONES = 16;

class Totals {
  flows = 0;
  private readonly packets = new CounterSum();
  private readonly bytes = new CounterSum();

  add(flow: DpFlow): void {
    this.addTotals(1, flow.packets, flow.bytes);
  }

  addTotals(flows: number, packets: Counter, bytes: Counter): void {
    this.flows += flows;
    this.packets.add(packets);
    this.bytes.add(bytes);
  }

  get(): FlowTotals {
    return { flows: this.flows, packets: this.packets.value, bytes: this.bytes.value };
  }
}

/** The conntrack leg of a port (CtFlows), in O(1) memory. */
class CtTotals {
  private readonly all = new Totals();
  private readonly byClass: Record<FlowClass, number> = {
    offloaded: 0,
    partial: 0,
    software: 0,
    unknown: 0,
  };
  private readonly zones = new Set<number>();
  private firstSoftware: CtFlows['firstSoftware'] = null;

  add(flow: DpFlow, cls: FlowClass): void {
    const leg = ctLeg(flow);
    if (leg === null) return;
    this.all.add(flow);
    this.byClass[cls]++;
    if (leg.zone !== null) this.addZone(leg.zone);
    if (cls === 'software' && this.firstSoftware === null) {
      this.firstSoftware = { flow: flowRef(flow), zone: leg.zone };
    }
  }

  private addZone(zone: number): void {
    if (this.zones.size < KEPT_ZONES || this.zones.has(zone)) this.zones.add(zone);
  }

  merge(other: CtTotals): void {
    const o = other.get();
    this.all.addTotals(o.all.flows, o.all.packets, o.all.bytes);
    this.byClass.offloaded += o.offloaded;
    this.byClass.partial += o.partial;
    this.byClass.software += o.software;
    this.byClass.unknown += o.unknown;
    for (const z of o.zones) this.addZone(z);
    this.firstSoftware ??= o.firstSoftware;
  }

  get(): CtFlows {
    return {
      all: this.all.get(),
      ...this.byClass,
      zones: [...this.zones].sort((a, b) => a - b),
      firstSoftware: this.firstSoftware,
    };
  }
}

/** Per-port (or whole-dump) counts by class, in O(1) memory per port. */
export class FlowAccumulator {
  private total = 0;
  private readonly byClass: Record<FlowClass, Totals> = {
    offloaded: new Totals(),
    partial: new Totals(),
    software: new Totals(),
    unknown: new Totals(),
  };
  private readonly softwareDp = { ovs: 0, tc: 0, dpdk: 0 };
  private countersNotReported = 0;
  private readonly ct = new CtTotals();

  add(flow: DpFlow, cls: FlowClass = classifyFlow(flow)): void {
    this.total++;
    this.byClass[cls].add(flow);
    this.ct.add(flow, cls);
    if (cls === 'software' && flow.dp !== null) this.softwareDp[flow.dp]++;
    // Some NICs (and tc without counters) report 0 for flows they switch: still offloaded.
    if (cls === 'offloaded' && (flow.packets === 0 || flow.packets === '0')) {
      this.countersNotReported++;
    }
  }

  /** Adds another accumulator's counts (a port seen both by name and by number). */
  merge(other: FlowAccumulator): void {
    this.total += other.total;
    for (const k of Object.keys(this.byClass) as FlowClass[]) {
      const t = other.byClass[k].get();
      this.byClass[k].addTotals(t.flows, t.packets, t.bytes);
    }
    this.softwareDp.ovs += other.softwareDp.ovs;
    this.softwareDp.tc += other.softwareDp.tc;
    this.softwareDp.dpdk += other.softwareDp.dpdk;
    this.countersNotReported += other.countersNotReported;
    this.ct.merge(other.ct);
  }

  get(): PortFlows {
    return {
      total: this.total,
      offloaded: this.byClass.offloaded.get(),
      partial: this.byClass.partial.get(),
      software: this.byClass.software.get(),
      unknown: this.byClass.unknown.get(),
      softwareDp: { ...this.softwareDp },
      countersNotReported: this.countersNotReported,
      ct: this.ct.get(),
    };
  }
}

/** How many unparsable lines are kept verbatim; the rest are only counted. */
const KEPT_ERRORS = 10;

/**
 * The whole dump folded per port token (`in_port(...)` text and each top-level output), as
 * printed: a name with `-m`/`--names`, a datapath number without. A flow counts once for
 * every port it touches. Memory grows with the number of ports, never with the flows.
 */
export class PortTally {
  readonly all = new FlowAccumulator();
  private readonly ports = new Map<string, FlowAccumulator>();
  errorCount = 0;
  readonly errors: FlowLineError[] = [];

  add(flow: DpFlow): void {
    const cls = classifyFlow(flow);
    this.all.add(flow, cls);
    const touched = new Set<string>();
    if (flow.inPort !== null) touched.add(flow.inPort);
    for (const port of outputPorts(flow)) touched.add(port);
    for (const port of touched) {
      let acc = this.ports.get(port);
      if (!acc) {
        acc = new FlowAccumulator();
        this.ports.set(port, acc);
      }
      acc.add(flow, cls);
    }
  }

  addError(error: FlowLineError): void {
    this.errorCount++;
    if (this.errors.length < KEPT_ERRORS) this.errors.push(error);
  }

  /** A parseDump item: a flow or a line error. */
  push(item: DpFlow | FlowLineError): void {
    if (isFlowLineError(item)) this.addError(item);
    else this.add(item);
  }

  /** Port tokens in the order first seen. */
  tokens(): string[] {
    return [...this.ports.keys()];
  }

  port(token: string): FlowAccumulator | undefined {
    return this.ports.get(token);
  }
}

/** Folds a stream of parsed items (parseDump) into a tally without holding the flows. */
export async function tallyFlows(
  source: AsyncIterable<DpFlow | FlowLineError> | Iterable<DpFlow | FlowLineError>,
): Promise<PortTally> {
  const tally = new PortTally();
  for await (const item of source) tally.push(item);
  return tally;
}
