import * as path from 'node:path';
import {
  isFlowLineError,
  type DpFlow,
  type DumpSink,
  type FlowLineError,
} from '../ovs/dpctl/index.js';
import { errorMessage, files, type CommandRunner } from '../sys/index.js';
import { offloadStatsArgv, parseOffloadStats } from './offload-stats.js';
import {
  addTcViews,
  parseTcFilters,
  readTcFilters,
  tcFlowRef,
  type TcFilter,
  type TcFlowRef,
} from './tc-filters.js';
import type { OffloadReport, PortEntry } from './types.js';

/**
 * What the live check adds from the datapath's own tools once the verdict stands: TC's view
 * of the kernel-datapath ports (`tc -s -j filter show dev PORT ingress`) and, on a
 * userspace (DPDK) datapath, `ovs-appctl dpctl/offload-stats-show`.
 */

/** Passes every flow on and keeps the dp:tc ones (ufid, in_port, packets) for the TC join. */
export function keepTcFlows(sink: DumpSink, refs: TcFlowRef[] | undefined): DumpSink {
  if (!refs) return sink;
  return {
    flow: (f) => {
      sink.flow(f);
      const r = tcFlowRef(f);
      if (r) refs.push(r);
    },
    error: (e) => sink.error(e),
  };
}

export interface NodeViewDeps {
  runner: CommandRunner;
  ovsTarget?: string;
}

export async function addNodeViews(
  deps: NodeViewDeps,
  report: OffloadReport,
  ports: readonly PortEntry[],
  tcFlows: readonly TcFlowRef[],
): Promise<OffloadReport> {
  const kernel = new Set(
    ports.filter((p) => p.datapath?.startsWith('system@') === true).map((p) => p.name),
  );
  if (kernel.size > 0) {
    await addTcViews(
      report.ports,
      kernel,
      (dev) => readTcFilters(deps.runner, dev),
      tcFlows,
      report.notes,
    );
  }
  // Without hw-offload there are no offload threads (OVS answers EINVAL) and hw-offload-off
  // already says why: the stats are only asked for when offload is on.
  const hwOffload = report.facts.ovs?.hwOffload === true;
  if (hwOffload && ports.some((p) => p.datapath?.startsWith('netdev@') === true)) {
    try {
      const r = await deps.runner.run(offloadStatsArgv(deps.ovsTarget), { timeoutMs: 10_000 });
      report.offloadStats = parseOffloadStats(r.stdout);
    } catch (err) {
      report.notes.push(
        `ovs-appctl dpctl/offload-stats-show failed: ${errorMessage(err).split('\n')[0] ?? ''}`,
      );
    }
  }
  return report;
}

/** The streaming form of keepTcFlows, for a parsed dump (`offload-check --dump`). */
export async function* keepTcRefs(
  flows: AsyncIterable<DpFlow | FlowLineError>,
  refs: TcFlowRef[],
): AsyncGenerator<DpFlow | FlowLineError> {
  for await (const f of flows) {
    if (!isFlowLineError(f)) {
      const r = tcFlowRef(f);
      if (r) refs.push(r);
    }
    yield f;
  }
}

/**
 * TC's view offline: `DIR/<port>.json` holds `tc -s -j filter show dev <port> ingress` as
 * captured on the node. Ports without a file are not compared (a note lists them).
 */
export async function addTcDir(
  dir: string,
  report: OffloadReport,
  tcFlows: readonly TcFlowRef[],
): Promise<OffloadReport> {
  const texts = new Map<string, string>();
  const absent: string[] = [];
  for (const r of report.ports) {
    const text = await files.readTextOrNull(path.join(dir, `${r.port}.json`));
    if (text === null) absent.push(r.port);
    else texts.set(r.port, text);
  }
  const read = (dev: string): Promise<TcFilter[]> =>
    Promise.resolve(parseTcFilters(texts.get(dev) ?? ''));
  await addTcViews(report.ports, new Set(texts.keys()), read, tcFlows, report.notes);
  if (absent.length > 0) {
    report.notes.push(
      `--tc-dir ${dir} has no <port>.json for ${absent.join(', ')}: TC not compared there`,
    );
  }
  return report;
}
