import type { CtFlows, OffloadFacts, OffloadReport, OffloadStats, PortReport } from './types.js';

/** The human `offload-check` output: a per-port table, then why, then one verdict line. */

const HEAD = ['PORT', 'POD', 'VERDICT', 'FLOWS', 'HW', 'PART', 'SW', '?', 'PACKETS', 'BYTES'];
/** Columns 3.. are counts: right-aligned. */
const FIRST_NUMERIC = 3;

function row(p: PortReport): string[] {
  const f = p.flows;
  return [
    p.port,
    p.pod ?? '-',
    p.verdict,
    String(f.total),
    String(f.offloaded.flows),
    String(f.partial.flows),
    String(f.software.flows),
    String(f.unknown.flows),
    packetsText(p),
    bytesText(p),
  ];
}

function add(...xs: (number | string)[]): string {
  let s = 0n;
  for (const x of xs) s += BigInt(x);
  return s.toString();
}

function packetsText(p: PortReport): string {
  const f = p.flows;
  return add(f.offloaded.packets, f.partial.packets, f.software.packets, f.unknown.packets);
}

function bytesText(p: PortReport): string {
  const f = p.flows;
  return add(f.offloaded.bytes, f.partial.bytes, f.software.bytes, f.unknown.bytes);
}

function table(rows: string[][]): string[] {
  const widths = HEAD.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i >= FIRST_NUMERIC ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function factsLine(facts: OffloadFacts): string | null {
  if (facts.ovs === null && facts.nic === null) return null;
  const parts: string[] = [];
  if (facts.ovs !== null) {
    const hw = facts.ovs.hwOffload === null ? 'not set' : String(facts.ovs.hwOffload);
    parts.push(`hw-offload ${hw}`);
    if (facts.ovs.tcPolicy !== null) parts.push(`tc-policy ${facts.ovs.tcPolicy}`);
  }
  for (const pf of facts.nic?.pfs ?? []) {
    const mode = pf.inactive ? 'switchdev (inactive)' : pf.eswitchMode;
    parts.push(`PF ${pf.pci} ${mode}${pf.uplink ? ` (uplink ${pf.uplink})` : ''}`);
  }
  return parts.length > 0 ? `node: ${parts.join(', ')}` : null;
}

/** "3 ct/recirc flows (34 packets, 3332 bytes): 1 offloaded, 2 in software; zones 4, 6". */
export function ctText(ct: CtFlows): string {
  const where: string[] = [];
  if (ct.offloaded > 0) where.push(`${ct.offloaded} offloaded`);
  if (ct.partial > 0) where.push(`${ct.partial} partial`);
  if (ct.software > 0) where.push(`${ct.software} in software`);
  if (ct.unknown > 0) where.push(`${ct.unknown} not shown (no -m)`);
  const zones =
    ct.zones.length === 0 ? '' : `; zone${ct.zones.length === 1 ? '' : 's'} ${ct.zones.join(', ')}`;
  const flows = `${ct.all.flows} ct/recirc flow${ct.all.flows === 1 ? '' : 's'}`;
  return `${flows} (${ct.all.packets} packets, ${ct.all.bytes} bytes): ${where.join(', ')}${zones}`;
}

/** `dpctl/offload-stats-show`: the totals (or per provider), then one line per offload thread. */
function offloadStatsLines(stats: OffloadStats): string[] {
  const out = ['offload stats (dpctl/offload-stats-show):'];
  const groups = new Map<string, string[]>();
  for (const c of stats.counters) {
    const key =
      c.thread === null
        ? (c.section ?? 'all')
        : c.thread === 'total'
          ? 'total'
          : `thread ${c.thread}`;
    groups.set(key, [...(groups.get(key) ?? []), `${c.name} ${c.value}`]);
  }
  for (const [k, v] of groups) out.push(`  ${k}: ${v.join(', ')}`);
  if (groups.size === 0) out.push('  (no counters)');
  return out;
}

function portDetail(p: PortReport): string[] {
  const out: string[] = [];
  const who = p.pod ? `${p.port} (${p.pod})` : p.port;
  const n = p.flows.countersNotReported;
  if (n > 0) {
    out.push(
      `${who}: ${n} offloaded flow${n === 1 ? ' prints' : 's print'} packets:0: the NIC does not report counters for ${n === 1 ? 'it' : 'them'}, which is not a sign of no traffic`,
    );
  }
  if (p.flows.ct.all.flows > 0) out.push(`${who}: conntrack leg: ${ctText(p.flows.ct)}`);
  if (p.tc) {
    const t = p.tc;
    out.push(
      `${who}: TC ingress: ${t.filters} flower filters (${t.inHw} in_hw, ${t.notInHw} not_in_hw, ${t.skipHw} skip_hw) for ${t.tcFlows} dp:tc flows, ${t.missing} offloaded without a filter`,
    );
  }
  if (p.reasons.length === 0) return out;
  out.push(`${who}: ${p.verdict}`);
  for (const r of p.reasons) {
    out.push(`  - ${r.code}: ${r.message}`);
    if (r.fix !== null) out.push(`    fix: ${r.fix}`);
  }
  return out;
}

function verdictLine(report: OffloadReport): string {
  const { ports, offloadedPorts } = report.summary;
  const of = `${offloadedPorts} of ${ports} port${ports === 1 ? '' : 's'}`;
  switch (report.verdict) {
    case 'offloaded':
      return `verdict: offloaded (${of})`;
    case 'not-offloaded':
      return `verdict: not offloaded (${of} offloaded)`;
    case 'no-ports':
      return 'verdict: nothing to check (no ports)';
  }
}

export function renderReport(report: OffloadReport): string {
  const out: string[] = [];
  const facts = factsLine(report.facts);
  if (facts) out.push(facts, '');
  if (report.ports.length > 0) {
    out.push(...table([HEAD, ...report.ports.map(row)]));
    const legend = ['HW offloaded:yes', 'PART offloaded:partial', 'SW in software'];
    if (report.ports.some((p) => p.flows.unknown.flows > 0)) legend.push('? not shown (no -m)');
    out.push(`(${legend.join(', ')}; a flow counts for every port it touches)`);
  }
  const details = report.ports.flatMap(portDetail);
  if (details.length > 0) out.push('', ...details);
  if (report.offloadStats) out.push('', ...offloadStatsLines(report.offloadStats));
  const { count, first } = report.parseErrors;
  const notes = [...report.notes];
  if (count > 0) {
    const e = first[0];
    notes.push(
      `${count} line${count === 1 ? ' is not a flow' : 's are not flows'}` +
        (e ? ` (line ${e.line}: ${e.message})` : ''),
    );
  }
  if (notes.length > 0) out.push('', ...notes.map((n) => `note: ${n}`));
  out.push('', verdictLine(report));
  return out.join('\n') + '\n';
}
