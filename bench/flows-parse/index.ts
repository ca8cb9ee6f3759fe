import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import {
  isFlowLineError,
  parseFlowLine,
  SummaryAccumulator,
  type FlowSummary,
} from '../../src/ovs/dpctl/index.js';
import { percentile, round } from '../lib/stats.js';
import type { Bench, SummaryRow } from '../lib/types.js';
import { FlowGenerator } from './generate.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const PYTHON = '/usr/bin/python3';

/** Goals (issue 4): ours/ODPFlow ≥ 50, peak RSS < 150 MB, and flat from 200k to 1M flows. */
const GOAL_RATIO = 50;
const GOAL_RSS_MB = 150;
/** "Flat": the 1M-flow peak within 20% of the 200k-flow peak. */
const FLAT_GROWTH = 1.2;

function parseAll(lines: readonly string[]): { flows: number; summary: FlowSummary } {
  const acc = new SummaryAccumulator();
  let flows = 0;
  for (const line of lines) {
    const r = parseFlowLine(line);
    if (r === null || isFlowLineError(r)) continue;
    acc.add(r);
    flows++;
  }
  return { flows, summary: acc.get() };
}

function timeSync(fn: () => unknown): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

/** `ovs-offload flows - --json` bundled on its own, so the child loads nothing else. */
async function bundleChild(): Promise<string> {
  // inside the repository, so the npm packages it imports resolve from node_modules
  const dir = path.join(here, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const outfile = path.join(dir, '.flows-parse-child.mjs');
  await build({
    entryPoints: [path.join(here, 'rss-child.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    logLevel: 'warning',
  });
  return outfile;
}

/**
 * Streams `total` flow lines (the generated pool, cycled) into the child's stdin and
 * returns its peak RSS and how fast it went end to end (parse + JSON out to /dev/null).
 */
async function childRun(
  child: string,
  pool: readonly string[],
  total: number,
): Promise<{ rssMb: number; flowsPerS: number }> {
  const p = spawn(process.execPath, [child, '-', '--json'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = once(p, 'exit');
  const t0 = process.hrtime.bigint();
  const batch = 2000;
  for (let sent = 0; sent < total; sent += batch) {
    const parts: string[] = [];
    for (let i = sent; i < Math.min(total, sent + batch); i++) parts.push(pool[i % pool.length]!);
    if (!p.stdin.write(parts.join('\n') + '\n')) await once(p.stdin, 'drain');
  }
  p.stdin.end();
  const [code] = (await exited) as [number | null];
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const last = stderr.trimEnd().split('\n').pop() ?? '';
  if (code !== 0) throw new Error(`flows child exited ${code}: ${stderr.trim()}`);
  const { maxRssKb } = JSON.parse(last) as { maxRssKb: number };
  return { rssMb: round(maxRssKb / 1024, 1), flowsPerS: Math.round(total / seconds) };
}

/** ODPFlow's rate on the same lines, timed inside Python (no interpreter start-up). */
function odpflowRate(lines: readonly string[]): {
  flowsPerS: number;
  lines: number;
  strictOk: number;
} {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'oo-flows-parse-'));
  try {
    const file = path.join(dir, 'dump.txt');
    writeFileSync(file, lines.join('\n') + '\n');
    const out = execFileSync(PYTHON, [path.join(here, 'odpflow_rate.py'), file], {
      maxBuffer: 1 << 20,
    }).toString();
    const r = JSON.parse(out) as { lines: number; strict_ok: number; ok: number; seconds: number };
    if (r.ok !== r.lines)
      throw new Error(`ODPFlow failed on ${r.lines - r.ok} of ${r.lines} lines`);
    return { flowsPerS: Math.round(r.lines / r.seconds), lines: r.lines, strictOk: r.strict_ok };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const bench: Bench = {
  name: 'flows-parse',
  describe:
    'dpctl/dump-flows -m parser: ours vs Open vSwitch ODPFlow (python), peak RSS streaming 200k → 1M flows',
  async run(ctx) {
    const flows = ctx.smoke ? 5_000 : 200_000;
    const bigFlows = ctx.smoke ? 25_000 : 1_000_000;
    const pySample = ctx.smoke ? 1_000 : 20_000;

    ctx.log(`generating a ${flows}-flow -m dump`);
    // split from one text, as lines come out of a stream
    const lines = [...new FlowGenerator(1).lines(flows)].join('\n').split('\n');
    const flowLines = lines.filter((l) => !l.startsWith('flow-dump from '));

    // warm the JIT on at least 100,000 lines and time as many, so a smoke run measures
    // optimised code over more than a few milliseconds too
    const passes = Math.max(5, Math.ceil(100_000 / flows));
    for (let i = 0; i < passes; i++) {
      const warm = parseAll(lines);
      if (warm.flows !== flows) throw new Error(`parsed ${warm.flows} of ${flows} flows`);
    }
    // ours is timed just before and just after ODPFlow, so a change in the host's load
    // while Python runs weighs on both sides of the ratio alike
    ctx.log(`timing our parser (${passes} warm-up passes, median of 2 × ${passes})`);
    const times = Array.from({ length: passes }, () => timeSync(() => parseAll(lines)));
    ctx.log(`timing ODPFlow on the first ${pySample} of the same lines`);
    const py = odpflowRate(flowLines.slice(0, pySample));
    times.push(...Array.from({ length: passes }, () => timeSync(() => parseAll(lines))));
    const ours = Math.round(flows / percentile(times, 50));
    const ratio = round(ours / py.flowsPerS, 1);

    ctx.log(`peak RSS of \`ovs-offload flows - --json\`: ${flows} then ${bigFlows} flows`);
    const child = await bundleChild();
    const small = await childRun(child, flowLines, flows);
    const big = await childRun(child, flowLines, bigFlows);
    const flat = big.rssMb <= small.rssMb * FLAT_GROWTH;

    const row = (
      metric: string,
      o: number,
      peer: number | null,
      r: number | null,
      goal: string,
      pass: boolean | null,
    ): SummaryRow => ({ bench: 'flows-parse', metric, ours: o, peer, ratio: r, goal, pass });
    const rows: SummaryRow[] = [
      row('flows_per_s', ours, py.flowsPerS, ratio, `ratio ≥ ${GOAL_RATIO}`, ratio >= GOAL_RATIO),
      row(
        `peak_rss_mb_${flows}`,
        small.rssMb,
        null,
        null,
        `< ${GOAL_RSS_MB} MB`,
        small.rssMb < GOAL_RSS_MB,
      ),
      row(
        `peak_rss_mb_${bigFlows}`,
        big.rssMb,
        small.rssMb,
        null,
        `flat (≤ ${FLAT_GROWTH}× the ${flows}-flow peak)`,
        flat,
      ),
    ];
    return {
      json: {
        bench: 'flows-parse',
        flows,
        ours_flows_per_s: ours,
        ovs_python_flows_per_s: py.flowsPerS,
        ratio,
        ours_peak_rss_mb: small.rssMb,
        big_flows: bigFlows,
        ours_peak_rss_mb_big: big.rssMb,
        rss_flat: flat,
        python_sample_lines: py.lines,
        cli_flows_per_s: small.flowsPerS,
      },
      table: [
        ['metric', 'ours', 'OVS ODPFlow', 'ratio', 'goal', 'pass'],
        [
          `parse flows/s (${flows} -m flows; python on the first ${py.lines}, strict off)`,
          ours,
          py.flowsPerS,
          ratio,
          `≥ ${GOAL_RATIO}`,
          ratio >= GOAL_RATIO ? 'yes' : 'NO',
        ],
        [
          'lines ODPFlow accepts as shipped (strict)',
          '-',
          `${py.strictOk}/${py.lines}`,
          '-',
          'reported',
          '-',
        ],
        [
          `peak RSS MB, flows - --json, ${flows} flows`,
          small.rssMb,
          '-',
          '-',
          `< ${GOAL_RSS_MB}`,
          small.rssMb < GOAL_RSS_MB ? 'yes' : 'NO',
        ],
        [
          `peak RSS MB, flows - --json, ${bigFlows} flows`,
          big.rssMb,
          '-',
          '-',
          `≤ ${FLAT_GROWTH}× above`,
          flat ? 'yes' : 'NO',
        ],
        [
          `CLI end to end flows/s (${flows}, stdin → JSON)`,
          small.flowsPerS,
          '-',
          '-',
          'reported',
          '-',
        ],
      ],
      rows,
    };
  },
};
