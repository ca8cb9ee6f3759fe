import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { round } from '../lib/stats.js';
import { barChart } from '../lib/svg.js';
import type { Bench, SummaryRow } from '../lib/types.js';
import { measureNode, type ScaleRow } from './node.js';

/**
 * A node with N VFs on one PF (emulated switchdev NIC, userspace OVS, no OVN, host-local
 * IPAM), the agent with its device plugin on, and a burst of N pods through the real front
 * end as a runtime starts them (all at once). Peers in the same run: Debian's Go host-device
 * plugin moving N veths into N netns at once, and N concurrent `ovs-vsctl add-port`.
 */
const resultsDir = path.resolve(import.meta.dirname, '..', 'results');

/** Issue #16's sequential ADD p50 at N=128 before this bench existed: not to get worse. */
const SEQ_ADD_BASELINE_MS = 164;

function goals(rows: readonly ScaleRow[]): SummaryRow[] {
  const out: SummaryRow[] = [];
  const at = (n: number) => rows.find((r) => r.n === n);
  const big = rows[rows.length - 1]!;
  const burstRow = at(128) ?? big;
  const ratio = round(burstRow.hostdevice_add_wall_ms / burstRow.burst_add_wall_ms);
  out.push({
    bench: 'scale',
    metric: `burst_add_wall_ms (N=${burstRow.n})`,
    ours: burstRow.burst_add_wall_ms,
    peer: burstRow.hostdevice_add_wall_ms,
    ratio,
    goal: '≥ 0.5 (within 2× of host-device)',
    pass: ratio >= 0.5,
  });
  out.push({
    bench: 'scale',
    metric: `seq_add_p50_ms (N=${burstRow.n})`,
    ours: burstRow.seq_add_p50_ms,
    peer: SEQ_ADD_BASELINE_MS,
    ratio: round(SEQ_ADD_BASELINE_MS / burstRow.seq_add_p50_ms),
    goal: `≤ ${SEQ_ADD_BASELINE_MS} ms (not worse than before)`,
    pass: burstRow.seq_add_p50_ms <= SEQ_ADD_BASELINE_MS,
  });
  out.push({
    bench: 'scale',
    metric: `rss_idle_mb (N=${big.n})`,
    ours: big.rss_idle_mb,
    peer: null,
    ratio: null,
    goal: '≤ 90 MB',
    pass: big.rss_idle_mb <= 90,
  });
  out.push({
    bench: 'scale',
    metric: `rss_after_burst_mb (N=${big.n})`,
    ours: big.rss_after_burst_mb,
    peer: null,
    ratio: null,
    goal: big.n >= 512 ? '≤ 120 MB after a 512-pod burst' : '≤ 120 MB (goal is for N=512)',
    pass: big.n >= 512 ? big.rss_after_burst_mb <= 120 : null,
  });
  out.push({
    bench: 'scale',
    metric: `idle_cpu_pct (N=${big.n})`,
    ours: big.idle_cpu_pct,
    peer: null,
    ratio: null,
    goal: '< 1 % of one CPU',
    pass: big.idle_cpu_pct < 1,
  });
  out.push({
    bench: 'scale',
    metric: `allocate_p99_ms (N=${big.n})`,
    ours: big.allocate_p99_ms,
    peer: null,
    ratio: null,
    goal: '< 5 ms',
    pass: big.allocate_p99_ms < 5,
  });
  return out;
}

function svg(rows: readonly ScaleRow[]): string {
  const wall = barChart(
    'Burst of N pods: wall time (s)',
    'seconds',
    rows.map((r) => ({
      label: `N=${r.n}`,
      bars: [
        { label: 'ours ADD', value: round(r.burst_add_wall_ms / 1000), color: '#4878a8' },
        {
          label: 'host-device ADD',
          value: round(r.hostdevice_add_wall_ms / 1000),
          color: '#78a848',
        },
        { label: 'ours DEL', value: round(r.burst_del_wall_ms / 1000), color: '#c8683a' },
      ],
    })),
  );
  const rss = barChart(
    'Agent resident memory (MB)',
    'MB',
    rows.map((r) => ({
      label: `N=${r.n}`,
      bars: [
        { label: 'idle, before pods', value: r.rss_idle_mb, color: '#4878a8' },
        { label: 'after the burst', value: r.rss_after_burst_mb, color: '#c8683a' },
        { label: 'after idling', value: r.rss_after_idle_mb, color: '#78a848' },
      ],
    })),
  );
  // Two standalone charts stacked in one file.
  return [
    '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="640">',
    `<g>${wall}</g>`,
    `<g transform="translate(0 320)">${rss}</g>`,
    '</svg>',
    '',
  ].join('\n');
}

export const bench: Bench = {
  name: 'scale',
  describe: 'a node with N VFs: PF bring-up, agent start, burst of N pods vs host-device, memory',
  async run(ctx) {
    const nArg = ctx.args.find((a) => a.startsWith('--n='));
    const ns = nArg ? nArg.slice(4).split(',').map(Number) : ctx.smoke ? [8] : [8, 32, 128, 512];
    if (ns.some((n) => !Number.isInteger(n) || n < 1 || n > 512))
      throw new Error(`--n: each N must be 1..512 (got ${nArg})`);
    const rows: ScaleRow[] = [];
    for (const n of ns) {
      const row = await measureNode({
        n,
        idleMs: ctx.smoke ? 3000 : 30_000,
        seqCalls: ctx.smoke ? 4 : 16,
        nicsJsonRuns: ctx.smoke ? 1 : 3,
        allocateCalls: ctx.smoke ? 50 : 500,
        steps: ctx.args.includes('--steps'),
        log: ctx.log,
      });
      ctx.log(JSON.stringify(row));
      rows.push(row);
    }
    if (!ctx.smoke) {
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(path.join(resultsDir, 'scale.json'), JSON.stringify(rows, null, 2) + '\n');
      writeFileSync(path.join(resultsDir, 'scale.svg'), svg(rows));
    }
    const table: (string | number)[][] = [
      [
        'N',
        'bring-up ms',
        'nics --json ms',
        'ready ms',
        'burst ADD s (hd s)',
        'ADD p50/p99 ms',
        'burst DEL s',
        'seq ADD p50',
        'RSS idle/burst/settled MB',
        'heap idle/burst/settled MB',
        'idle CPU %',
        'restart ms',
        'LW first ms',
        'Alloc p99',
        'vsctl add/del s',
      ],
      ...rows.map((r) => [
        r.n,
        r.pf_bringup_ms,
        r.nics_json_ms,
        r.agent_ready_ms,
        `${round(r.burst_add_wall_ms / 1000)} (${round(r.hostdevice_add_wall_ms / 1000)})`,
        `${r.burst_add_p50_ms}/${r.burst_add_p99_ms}`,
        round(r.burst_del_wall_ms / 1000),
        r.seq_add_p50_ms,
        `${r.rss_idle_mb}/${r.rss_after_burst_mb}/${r.rss_after_idle_mb}`,
        `${r.heap_idle_mb}/${r.heap_after_burst_mb}/${r.heap_after_idle_mb}`,
        r.idle_cpu_pct,
        r.restart_ready_ms,
        r.listandwatch_first_ms,
        r.allocate_p99_ms,
        `${round(r.vsctl_add_wall_ms / 1000)}/${round(r.vsctl_del_wall_ms / 1000)}`,
      ]),
    ];
    return { json: { bench: 'scale', rows }, table, rows: goals(rows) };
  },
};
