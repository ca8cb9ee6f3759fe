import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ctLeg,
  judgePorts,
  parsePortsFile,
  renderExplain,
  renderReport,
  type OffloadReport,
  type PortEntry,
} from '../../../src/offload/index.js';
import { AgentMetrics } from '../../../src/agent/metrics.js';
import { parseDumpText } from '../../../src/ovs/dpctl/index.js';
import { dumpflowsFixture, dumpflowsFlowLines } from '../../helpers/dpctl-fixtures.js';

/**
 * The conntrack leg (flows.ct, `ct-not-offloaded`) on the published captures that have ct
 * and recirc flows (test/fixtures/dumpflows, each with its `# source:` line), and the
 * surfaces that show it: the table, --explain, the refusal counter.
 */

const ROOT = path.resolve(import.meta.dirname, '../../..');

function judgeText(text: string, ports: PortEntry[] = [], select = {}): OffloadReport {
  const dump = parseDumpText(text);
  expect(dump.errors).toEqual([]);
  return judgePorts(dump.flows, ports, { ovs: null, nic: null }, { select, source: 'dump' });
}

const VDPA = 'sriovop-vdpa-m-ct-drop.txt';
/**
 * The vDPA capture (ConnectX-6 Dx: ct offloaded) as a NIC without ct offload shows it: the
 * two `ct(zone=15,nat)` flows of the client port stay in the OVS datapath (`dp:ovs`, which is
 * what `-m` prints for a flow the NIC refused), everything else is as captured.
 */
function vdpaCtRefused(): string {
  return dumpflowsFixture(VDPA)
    .split('\n')
    .map((l) =>
      l.includes('actions:ct(zone=15') ? l.replace('offloaded:yes, dp:tc', 'dp:ovs') : l,
    )
    .join('\n');
}
const VDPA_PORTS: PortEntry[] = parsePortsFile(
  JSON.stringify({
    ports: [
      { port: 'ac63a8e99747603', bridge: 'br-int', pod: 'default/client' },
      { port: '8630f7a90005cdd', bridge: 'br-int', pod: 'default/server' },
    ],
  }),
  'vdpa.ports.json',
);

describe('ctLeg: which flows go through conntrack', () => {
  it('ct() and recirc() actions, recirc_id != 0, ct_state flags (kubeovn-yunsilicon-pmd-ct)', () => {
    const flows = parseDumpText(dumpflowsFlowLines('kubeovn-yunsilicon-pmd-ct.txt').join('\n'));
    // ct_state(-new+est-rel+rpl+trk),…,recirc_id(0x2d277),… actions:ct(zone=4,nat),recirc(0x2d278)
    expect(ctLeg(flows.flows[0]!)).toEqual({ zone: 4 });
    // ct_state(+…),recirc_id(0x2d276),… actions:15: the post-ct leg, no zone printed
    expect(ctLeg(flows.flows[2]!)).toEqual({ zone: null });
    // recirc_id(0),in_port(15),… actions:ct(zone=6,nat),recirc(0x2d277)
    expect(ctLeg(flows.flows[3]!)).toEqual({ zone: 6 });
  });

  it('-m wildcards ct_state(0/0x23), ct_zone(0/0), recirc_id(0) are not ct (kubeovn-corigine-m-offloaded)', () => {
    const flows = parseDumpText(dumpflowsFixture('kubeovn-corigine-m-offloaded.txt')).flows;
    expect(flows).toHaveLength(2);
    for (const f of flows) expect(ctLeg(f)).toBeNull();
  });

  it('a ct_zone match names the zone', () => {
    const f = parseDumpText(
      'ct_state(+est+trk),ct_zone(0x5),recirc_id(0x3),in_port(rep0), packets:1, bytes:60, used:0.1s, actions:rep1',
    ).flows[0]!;
    expect(ctLeg(f)).toEqual({ zone: 5 });
  });
});

describe('flows.ct on the real captures', () => {
  it('kubeovn-yunsilicon-pmd-ct: every flow of ports 15 and 8 is ct, zones 4 and 6, not shown (no -m)', () => {
    const r = judgeText(dumpflowsFixture('kubeovn-yunsilicon-pmd-ct.txt'));
    const ct = Object.fromEntries(r.ports.map((p) => [p.port, p.flows.ct]));
    expect(ct['15']).toEqual({
      all: { flows: 4, packets: 23, bytes: 2254 },
      offloaded: 0,
      partial: 0,
      software: 0,
      unknown: 4,
      zones: [4, 6],
      firstSoftware: null,
    });
    expect(ct['8']).toMatchObject({ all: { flows: 4, packets: 22, bytes: 2156 }, unknown: 4 });
    // Without -m nothing says where the ct leg runs: no ct-not-offloaded guess.
    expect(r.ports.flatMap((p) => p.reasons.map((x) => x.code))).not.toContain('ct-not-offloaded');
  });

  it('sriovop-names-ct-zone: zone 65520 on eth0 and eth1, u64-size counters summed', () => {
    const r = judgeText(dumpflowsFixture('sriovop-names-ct-zone.txt'));
    const eth1 = r.ports.find((p) => p.port === 'eth1')!.flows.ct;
    expect(eth1).toMatchObject({
      all: { flows: 3, packets: 269056136, bytes: 390659090469 },
      unknown: 3,
      zones: [65520],
    });
  });

  it('sriovop-vdpa-m-ct-drop (ConnectX-6 Dx): the ct leg is offloaded, no reason', () => {
    const r = judgeText(dumpflowsFixture(VDPA), VDPA_PORTS);
    expect(r.verdict).toBe('offloaded');
    const client = r.ports.find((p) => p.port === 'ac63a8e99747603')!;
    expect(client.flows.ct).toMatchObject({
      all: { flows: 2, packets: 46251, bytes: 3052914 },
      offloaded: 2,
      software: 0,
      zones: [15],
    });
    expect(r.ports.find((p) => p.port === '8630f7a90005cdd')!.flows.ct.zones).toEqual([14]);
  });

  it('the same capture with the ct leg refused: ct-not-offloaded names zone 15 and the ufid', () => {
    const r = judgeText(vdpaCtRefused(), VDPA_PORTS, { pod: 'default/client' });
    const client = r.ports[0]!;
    expect(client.verdict).toBe('partial');
    expect(client.flows.ct).toMatchObject({
      software: 2,
      offloaded: 0,
      firstSoftware: { flow: 'ufid:30ae9875-d107-46a1-b8cb-cdaafd89d440', zone: 15 },
    });
    const ct = client.reasons.find((x) => x.code === 'ct-not-offloaded')!;
    expect(ct.message).toContain('zone 15');
    expect(ct.message).toContain('ufid:30ae9875-d107-46a1-b8cb-cdaafd89d440');
    expect(ct.evidence).toEqual(['ufid:30ae9875-d107-46a1-b8cb-cdaafd89d440', 'zone=15']);
    expect(ct.fix).toMatch(/conntrack offload/);
  });

  it('a ct leg in software with nothing else in the NIC is not ct-not-offloaded (all software)', () => {
    const text = dumpflowsFixture(VDPA).replaceAll('offloaded:yes, dp:tc', 'dp:ovs');
    const r = judgeText(text, VDPA_PORTS);
    const codes = r.ports.flatMap((p) => p.reasons.map((x) => x.code));
    expect(codes).toContain('software-datapath');
    expect(codes).not.toContain('ct-not-offloaded');
  });

  it('the table prints the ct leg of each port', () => {
    const out = renderReport(judgeText(vdpaCtRefused(), VDPA_PORTS));
    expect(out).toContain(
      'ac63a8e99747603 (default/client): conntrack leg: 2 ct/recirc flows (46251 packets, 3052914 bytes): 2 in software; zone 15',
    );
    expect(out).toContain('  - ct-not-offloaded: the conntrack leg is in software');
  });
});

describe('renderExplain', () => {
  it('the evidence chain of one pod of a captured dump with --ports (docs/examples)', () => {
    const ports = parsePortsFile(
      readFileSync(path.join(ROOT, 'docs/examples/kubeovn-corigine.ports.json'), 'utf8'),
      'kubeovn-corigine.ports.json',
    );
    const r = judgeText(dumpflowsFixture('kubeovn-corigine-m-offloaded.txt'), ports, {
      pod: 'default/nginx',
    });
    expect(renderExplain(r)).toBe(
      [
        'explain: pod default/nginx (captured dump)',
        '',
        'config',
        '  hw-offload     unknown (captured dump: no node facts)',
        '  eswitch        unknown (no NIC facts)',
        '  hw-tc-offload  not read (check: ethtool -k 5b45c61b307e_h | grep hw-tc-offload)',
        '',
        'port 5b45c61b307e_h (pod default/nginx, bridge br-int)',
        '  flows          2 touch the port',
        '    offloaded    2 (83328198 packets, 116006996403 bytes)',
        '    partial      0 (0 packets)',
        '    software     0 (0 packets)',
        '  ct leg         none (no ct/recirc flow)',
        '  TC view        not read (captured dump, or not a kernel datapath port)',
        '  log            no ovs-vswitchd.log line names this port',
        '  verdict        offloaded',
        '',
        'verdict: offloaded (1 of 1 port offloaded)',
        '',
      ].join('\n'),
    );
  });

  it('a refused ct leg: flows, ct leg with the flow, the reason with its evidence and fix', () => {
    const out = renderExplain(judgeText(vdpaCtRefused(), VDPA_PORTS, { pod: 'default/client' }));
    expect(out).toContain('    software     2 (46251 packets): dp:ovs 2\n');
    expect(out).toContain(
      '  ct leg         2 ct/recirc flows (46251 packets, 3052914 bytes): 2 in software; zone 15\n' +
        '    in software  ufid:30ae9875-d107-46a1-b8cb-cdaafd89d440 (zone 15)\n',
    );
    expect(out).toContain('      evidence: ufid:30ae9875-d107-46a1-b8cb-cdaafd89d440\n');
    expect(out).toMatch(/ {6}fix: use a NIC\/firmware with conntrack offload/);
    expect(out.trimEnd().split('\n').at(-1)).toBe('verdict: not offloaded (0 of 1 port offloaded)');
  });
});

describe('ovs_offload_flow_refusals_total', () => {
  const metrics = () =>
    new AgentMetrics({
      attachments: () => [],
      pendingUndos: () => 0,
      pools: () => [],
      eswitchModes: () => [],
    });

  it('counts each refusal once by port, reason and evidence, not on every report', async () => {
    const m = metrics();
    const r = judgeText(vdpaCtRefused(), VDPA_PORTS);
    expect(m.observeRefusals(r)).toBe(1);
    expect(m.observeRefusals(r)).toBe(0);
    const text = await m.registry.metrics();
    expect(text).toMatch(
      /ovs_offload_flow_refusals_total\{reason="ct-not-offloaded",port="ac63a8e99747603"\} 1/,
    );
  });

  it('dp:ovs is a refusal only when hw-offload is on', () => {
    const text = dumpflowsFixture(VDPA).replaceAll('offloaded:yes, dp:tc', 'dp:ovs');
    const dump = parseDumpText(text);
    const on = judgePorts(dump.flows, VDPA_PORTS, {
      ovs: { hwOffload: true, tcPolicy: null },
      nic: null,
    });
    const off = judgePorts(dump.flows, VDPA_PORTS, {
      ovs: { hwOffload: false, tcPolicy: null },
      nic: null,
    });
    expect(metrics().observeRefusals(off)).toBe(0);
    expect(metrics().observeRefusals(on)).toBe(2);
  });
});
