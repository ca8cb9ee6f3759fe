import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CniOp } from '../cni/types.js';
import type { PoolStatus } from '../deviceplugin/index.js';
import { classifyFlow, type OffloadReport, type Reason } from '../offload/index.js';
import type { DpFlow } from '../ovs/dpctl/index.js';

/** Flow counts of one port, split the way offload is judged. */
export interface PortFlows {
  offloaded: { flows: number; packets: number };
  partial: { flows: number; packets: number };
  software: { flows: number; packets: number };
}

/** The verdict's own classification; a flow without `-m` fields counts as software here. */
function flowKind(f: DpFlow): keyof PortFlows {
  const c = classifyFlow(f);
  return c === 'unknown' ? 'software' : c;
}

/** Adds one flow to per-in_port totals (ports as the dump names them). */
export function countFlow(out: Map<string, PortFlows>, f: DpFlow): void {
  const port = f.inPort ?? '?';
  let p = out.get(port);
  if (!p) {
    p = {
      offloaded: { flows: 0, packets: 0 },
      partial: { flows: 0, packets: 0 },
      software: { flows: 0, packets: 0 },
    };
    out.set(port, p);
  }
  const k = p[flowKind(f)];
  k.flows++;
  k.packets += Number(f.packets);
}

/** Reasons that are a flow the NIC or driver refused whatever evidence they carry. */
const REFUSAL_CODES = new Set(['tc-software', 'dpdk-software', 'ct-not-offloaded']);

/**
 * Whether a reason is a refusal: ovs-vswitchd tried to put a flow into the NIC and it stayed
 * in software. Config reasons (hw-offload off, legacy eswitch) are not: nothing was tried.
 */
export function isRefusal(r: Reason, hwOffload: boolean | null): boolean {
  if (REFUSAL_CODES.has(r.code) || r.code.startsWith('refused-')) return true;
  // dp:ovs with hw-offload on: the NIC said no; with it off, nothing asked the NIC.
  if (r.code === 'software-datapath') return hwOffload === true;
  return r.code.startsWith('tc-') && (r.evidence?.length ?? 0) > 0;
}

/** How many refusal keys are remembered: past it the oldest are forgotten (and may count again). */
const SEEN_REFUSALS = 10_000;

export interface MetricsSources {
  attachments(): { mode: 'offload' | 'legacy' }[];
  /** Attachments whose undo failed and is being retried in the background. */
  pendingUndos(): number;
  pools(): PoolStatus[];
  eswitchModes(): { pf: string; mode: string | null }[];
}

/**
 * The agent's Prometheus series (`ovs_offload_*`). Gauges are computed when scraped from the
 * live objects, so they cannot drift; the flow gauges come from the periodic dump sample.
 */
export class AgentMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'op' | 'result'>;
  private readonly duration: Histogram<'op' | 'result'>;
  private readonly flows: Gauge<'port' | 'kind'>;
  private readonly flowPackets: Gauge<'port' | 'kind'>;
  private readonly flowSampleAge: Gauge;
  private readonly refusals: Counter<'reason' | 'port'>;
  private readonly seenRefusals = new Set<string>();

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'ovs_offload_cni_requests_total',
      help: 'CNI requests handled by the agent, by operation and result (ok or the CNI error code).',
      labelNames: ['op', 'result'],
      registers,
    });
    this.duration = new Histogram({
      name: 'ovs_offload_cni_request_duration_seconds',
      help: 'Time the agent spent on a CNI request.',
      labelNames: ['op', 'result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    new Gauge({
      name: 'ovs_offload_attachments',
      help: 'Pod interfaces attached by this agent, by mode.',
      labelNames: ['mode'],
      registers,
      collect() {
        const all = sources.attachments();
        this.set({ mode: 'offload' }, all.filter((a) => a.mode === 'offload').length);
        this.set({ mode: 'legacy' }, all.filter((a) => a.mode === 'legacy').length);
      },
    });
    new Gauge({
      name: 'ovs_offload_pending_undos',
      help: 'Attachments whose undo failed (VF, port or lease not yet released) and is retried with backoff.',
      registers,
      collect() {
        this.set(sources.pendingUndos());
      },
    });
    new Gauge({
      name: 'ovs_offload_pool_vfs',
      help: 'VFs of each device plugin pool: total, allocated to pods, unhealthy.',
      labelNames: ['resource', 'state'],
      registers,
      collect() {
        this.reset();
        for (const p of sources.pools()) {
          this.set({ resource: p.resourceName, state: 'total' }, p.total);
          this.set({ resource: p.resourceName, state: 'allocated' }, p.allocated);
          this.set({ resource: p.resourceName, state: 'unhealthy' }, p.unhealthy);
        }
      },
    });
    new Gauge({
      name: 'ovs_offload_eswitch_mode',
      help: 'Eswitch mode of each managed PF (1 for the current mode).',
      labelNames: ['pf', 'mode'],
      registers,
      collect() {
        this.reset();
        for (const { pf, mode } of sources.eswitchModes()) {
          for (const m of ['switchdev', 'legacy', 'dpdk'])
            this.set({ pf, mode: m }, mode === m ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'ovs_offload_memory_bytes',
      help: "The agent's memory: rss (resident set), heap_used and heap_total (V8 heap), external (buffers outside it).",
      labelNames: ['kind'],
      registers,
      collect() {
        const m = process.memoryUsage();
        this.set({ kind: 'rss' }, m.rss);
        this.set({ kind: 'heap_used' }, m.heapUsed);
        this.set({ kind: 'heap_total' }, m.heapTotal);
        this.set({ kind: 'external' }, m.external);
      },
    });
    this.flows = new Gauge({
      name: 'ovs_offload_datapath_flows',
      help: 'Datapath flows per input port at the last sample: offloaded, partial, software.',
      labelNames: ['port', 'kind'],
      registers,
    });
    this.flowPackets = new Gauge({
      name: 'ovs_offload_datapath_flow_packets',
      help: 'Packets of the datapath flows per input port at the last sample, by kind.',
      labelNames: ['port', 'kind'],
      registers,
    });
    this.refusals = new Counter({
      name: 'ovs_offload_flow_refusals_total',
      help: 'Offload refusals seen in the offload verdict (dp:ovs with hw-offload on, dp:tc not in hardware, ct leg in software, ovs-vswitchd.log refusals), by reason code and port; each refusal (its evidence: a flow ufid, a log line) counts once.',
      labelNames: ['reason', 'port'],
      registers,
    });
    this.flowSampleAge = new Gauge({
      name: 'ovs_offload_flow_sample_timestamp_seconds',
      help: 'When the datapath flows were last sampled (unix time).',
      registers,
    });
  }

  observeCni(op: CniOp, outcome: 'ok' | 'error', seconds: number, code?: number): void {
    const result = outcome === 'ok' ? 'ok' : String(code ?? 'error');
    this.requests.inc({ op, result });
    this.duration.observe({ op, result }, seconds);
  }

  /**
   * Counts the refusals of an offload report that were not seen before: the key is the port,
   * the reason and its first evidence (a ufid, a log line), so a flow that stays refused
   * across samples counts once. Returns how many were new.
   */
  observeRefusals(report: OffloadReport): number {
    const hwOffload = report.facts.ovs?.hwOffload ?? null;
    let added = 0;
    for (const p of report.ports) {
      for (const r of p.reasons) {
        if (!isRefusal(r, hwOffload)) continue;
        const key = `${p.port}\0${r.code}\0${r.evidence?.[0] ?? ''}`;
        if (this.seenRefusals.has(key)) continue;
        if (this.seenRefusals.size >= SEEN_REFUSALS) {
          const oldest = this.seenRefusals.values().next();
          if (oldest.done !== true) this.seenRefusals.delete(oldest.value);
        }
        this.seenRefusals.add(key);
        this.refusals.inc({ reason: r.code, port: p.port });
        added++;
      }
    }
    return added;
  }

  /** Replaces the flow gauges with a new sample, for the ports we care about. */
  setFlowSample(byPort: Map<string, PortFlows>, ports: readonly string[]): void {
    this.flows.reset();
    this.flowPackets.reset();
    for (const port of ports) {
      const p = byPort.get(port);
      for (const kind of ['offloaded', 'partial', 'software'] as const) {
        this.flows.set({ port, kind }, p?.[kind].flows ?? 0);
        this.flowPackets.set({ port, kind }, p?.[kind].packets ?? 0);
      }
    }
    this.flowSampleAge.set(Date.now() / 1000);
  }
}
