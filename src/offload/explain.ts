import { ctText } from './render.js';
import type { OffloadFacts, OffloadReport, PortReport, Reason } from './types.js';

/**
 * `offload-check --explain`: the evidence chain for one pod or port, in the order a person
 * debugging offload reads it: the node's config → the port's flows (and their ct leg) →
 * TC's own view → ovs-vswitchd's log lines → the verdict and what to do.
 */

/** Reason codes that come from ovs-vswitchd's log (their evidence is the quoted line). */
const isLogReason = (r: Reason): boolean => r.code.startsWith('refused-');

function configLines(facts: OffloadFacts, ports: readonly PortReport[]): string[] {
  const out = ['config'];
  if (facts.ovs === null) {
    out.push('  hw-offload     unknown (captured dump: no node facts)');
  } else {
    const hw = facts.ovs.hwOffload;
    out.push(
      `  hw-offload     ${hw === null ? 'not set (OVS default: false)' : String(hw)}`,
      `  tc-policy      ${facts.ovs.tcPolicy ?? 'not set (none: TC tries hardware, falls back to software)'}`,
    );
  }
  if (facts.nic === null) {
    out.push('  eswitch        unknown (no NIC facts)');
  } else if (facts.nic.pfs.length === 0) {
    out.push('  eswitch        no SR-IOV PF found');
  } else {
    for (const pf of facts.nic.pfs) {
      const mode = pf.inactive ? 'switchdev (inactive)' : pf.eswitchMode;
      out.push(`  eswitch        PF ${pf.pci} ${mode}${pf.uplink ? `, uplink ${pf.uplink}` : ''}`);
    }
  }
  const devs = ports.map((p) => p.port);
  const refusedHwTc = ports.some((p) => p.reasons.some((r) => r.code === 'refused-hw-tc-offload'));
  out.push(
    `  hw-tc-offload  ${refusedHwTc ? 'off (ovs-vswitchd.log, below)' : 'not read'} (check: ethtool -k ${devs[0] ?? '<representor>'} | grep hw-tc-offload)`,
  );
  return out;
}

function flowLines(p: PortReport): string[] {
  const f = p.flows;
  const sw = f.softwareDp;
  const swWhere = [
    sw.ovs > 0 ? `dp:ovs ${sw.ovs}` : '',
    sw.tc > 0 ? `dp:tc ${sw.tc}` : '',
    sw.dpdk > 0 ? `dp:dpdk ${sw.dpdk}` : '',
  ].filter((s) => s !== '');
  const out = [
    `  flows          ${f.total} touch the port`,
    `    offloaded    ${f.offloaded.flows} (${f.offloaded.packets} packets, ${f.offloaded.bytes} bytes)`,
    `    partial      ${f.partial.flows} (${f.partial.packets} packets)`,
    `    software     ${f.software.flows} (${f.software.packets} packets)${swWhere.length > 0 ? `: ${swWhere.join(', ')}` : ''}`,
  ];
  if (f.unknown.flows > 0) out.push(`    not shown    ${f.unknown.flows} (dump without -m)`);
  if (f.countersNotReported > 0) {
    out.push(`    packets:0    ${f.countersNotReported} offloaded (the NIC reports no counters)`);
  }
  out.push(`  ct leg         ${f.ct.all.flows === 0 ? 'none (no ct/recirc flow)' : ctText(f.ct)}`);
  if (f.ct.firstSoftware) {
    const z = f.ct.firstSoftware.zone;
    out.push(`    in software  ${f.ct.firstSoftware.flow}${z === null ? '' : ` (zone ${z})`}`);
  }
  return out;
}

/** TC's view reasons (tc-filter-missing, tc-not-in-hw…), not the dpctl `tc-software` one. */
const isTcViewReason = (r: Reason): boolean => r.code.startsWith('tc-') && r.code !== 'tc-software';

function tcLines(p: PortReport, stats: OffloadReport['offloadStats']): string[] {
  const tc = p.tc;
  const out = tc
    ? [
        `  TC view        ${tc.filters} filters on ingress: ${tc.inHw} in_hw, ${tc.notInHw} not_in_hw, ${tc.skipHw} skip_hw`,
        `    vs dpctl     ${tc.tcFlows} dp:tc flows come in on it, ${tc.missing} offloaded with no TC filter`,
      ]
    : ['  TC view        not read (captured dump, or not a kernel datapath port)'];
  for (const r of p.reasons.filter(isTcViewReason)) {
    for (const e of r.evidence ?? []) out.push(`    ${r.code}: ${e}`);
  }
  const totals = (stats?.counters ?? []).filter((c) => c.thread === 'total' || c.thread === null);
  if (totals.length > 0) {
    const text = totals.map((c) => `${c.section ? `${c.section} ` : ''}${c.name} ${c.value}`);
    out.push(`  offload stats  ${text.join(', ')}`);
  }
  return out;
}

function logLines(p: PortReport): string[] {
  const lines = p.reasons.filter(isLogReason).flatMap((r) => r.evidence ?? []);
  if (lines.length === 0) return ['  log            no ovs-vswitchd.log line names this port'];
  return ['  log', ...lines.map((l) => `    ${l}`)];
}

function verdictLines(p: PortReport): string[] {
  const out = [`  verdict        ${p.verdict}`];
  for (const r of p.reasons) {
    out.push(`    - ${r.code}: ${r.message}`);
    const shownAbove = isLogReason(r) || isTcViewReason(r);
    for (const e of r.evidence ?? []) if (!shownAbove) out.push(`      evidence: ${e}`);
    if (r.fix !== null) out.push(`      fix: ${r.fix}`);
  }
  return out;
}

/** The --explain text of a report judged for one pod (--pod) or port (--port). */
export function renderExplain(report: OffloadReport): string {
  const pods = [...new Set(report.ports.flatMap((p) => (p.pod === null ? [] : [p.pod])))];
  const subject =
    pods.length === 1 ? `pod ${pods[0] ?? ''}` : report.ports.map((p) => p.port).join(', ');
  const out = [`explain: ${subject} (${report.source === 'live' ? 'live' : 'captured dump'})`, ''];
  out.push(...configLines(report.facts, report.ports));
  for (const p of report.ports) {
    const where = [p.pod ? `pod ${p.pod}` : null, p.bridge ? `bridge ${p.bridge}` : null];
    const at = where.filter((w) => w !== null).join(', ');
    out.push('', `port ${p.port}${at ? ` (${at})` : ''}`);
    out.push(
      ...flowLines(p),
      ...tcLines(p, report.offloadStats),
      ...logLines(p),
      ...verdictLines(p),
    );
  }
  if (report.notes.length > 0) out.push('', ...report.notes.map((n) => `note: ${n}`));
  const { ports, offloadedPorts } = report.summary;
  out.push(
    '',
    `verdict: ${report.verdict === 'offloaded' ? 'offloaded' : 'not offloaded'} (${offloadedPorts} of ${ports} port${ports === 1 ? '' : 's'} offloaded)`,
  );
  return out.join('\n') + '\n';
}
