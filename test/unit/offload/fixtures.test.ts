import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  exitCodeOf,
  judgePorts,
  parsePortsFile,
  type OffloadReport,
  type PortVerdict,
  type Selection,
} from '../../../src/offload/index.js';
import { parseDumpText } from '../../../src/ovs/dpctl/index.js';
import { dumpflowsFixture, dumpflowsFixtureNames } from '../../helpers/dpctl-fixtures.js';

/**
 * The verdict on every published capture (test/fixtures/dumpflows, facts in its README):
 * `-m` captures prove offload; `type=offloaded` captures without `-m` print no `offloaded:`
 * field, and the verdict says it cannot tell instead of taking the filter's word for it.
 */

const ROOT = path.resolve(import.meta.dirname, '../../..');
const portsFile = (rel: string) => parsePortsFile(readFileSync(path.join(ROOT, rel), 'utf8'), rel);

function judge(name: string, ports?: string, select: Selection = {}): OffloadReport {
  const dump = parseDumpText(dumpflowsFixture(name));
  expect(dump.errors, name).toEqual([]);
  return judgePorts(
    dump.flows,
    ports ? portsFile(ports) : [],
    { ovs: null, nic: null },
    { select },
  );
}

const verdicts = (r: OffloadReport) =>
  Object.fromEntries(r.ports.map((p) => [p.port, p.verdict])) as Record<string, PortVerdict>;
const codes = (r: OffloadReport) => [
  ...new Set(r.ports.flatMap((p) => p.reasons.map((x) => x.code))),
];

interface Case {
  ports?: string;
  select?: Selection;
  verdicts: Record<string, PortVerdict>;
  exit: 0 | 1;
  reasons: string[];
  check?: (r: OffloadReport) => void;
}

const CASES: Record<string, Case[]> = {
  'charmguide-ovn-geneve-key6.txt': [
    {
      // geneve port 2 and pod ports 6/7 by datapath number; no -m: nothing is proven
      verdicts: { '2': 'unknown', '7': 'unknown', '6': 'unknown' },
      exit: 1,
      reasons: ['not-shown'],
      check(r) {
        expect(r.ports.find((p) => p.port === '2')!.flows).toMatchObject({
          total: 7,
          unknown: { flows: 7, packets: 1120519, bytes: 7544524480 },
        });
        expect(r.ports.map((p) => p.odp)).toEqual([2, 7, 6]);
        expect(r.summary.flows.unknown).toEqual({
          flows: 8,
          packets: 1120524,
          bytes: 7544525470,
        });
        expect(r.notes.join('\n')).toMatch(/datapath port numbers \(2, 7, 6\) that no port maps/);
      },
    },
  ],
  'kubeovn-corigine-m-offloaded.txt': [
    {
      ports: 'docs/examples/kubeovn-corigine.ports.json',
      verdicts: { '5b45c61b307e_h': 'offloaded', '54235e5753b8_h': 'offloaded' },
      exit: 0,
      reasons: [],
      check(r) {
        expect(r.ports.map((p) => p.pod)).toEqual(['default/nginx', 'default/nginx-2']);
        for (const p of r.ports) {
          expect(p.flows.offloaded).toEqual({
            flows: 2,
            packets: 83328198,
            bytes: 116006996403,
          });
        }
        expect(r.notes).toEqual([]);
      },
    },
    {
      ports: 'docs/examples/kubeovn-corigine.ports.json',
      select: { pod: 'default/nginx-2' },
      verdicts: { '54235e5753b8_h': 'offloaded' },
      exit: 0,
      reasons: [],
    },
  ],
  'kubeovn-yunsilicon-pmd-ct.txt': [
    {
      verdicts: { '15': 'unknown', '8': 'unknown' },
      exit: 1,
      reasons: ['not-shown'],
    },
    {
      // datapath numbers mapped by the ports file's "odp"; still no -m, still not proven
      ports: 'test/fixtures/offload/yunsilicon.ports.json',
      select: { pod: 'default/pod-a' },
      verdicts: { '3b1b4c0f7a44_h': 'unknown' },
      exit: 1,
      reasons: ['not-shown'],
      check(r) {
        expect(r.ports[0]).toMatchObject({ odp: 15, pod: 'default/pod-a' });
        expect(r.ports[0]!.flows.unknown).toEqual({ flows: 4, packets: 23, bytes: 2254 });
        expect(r.notes).toEqual([]);
      },
    },
  ],
  'kubeovn-yusur-vendor-offload-counters.txt': [
    {
      // vendor offload_packets/offload_bytes and missing spaces: packets: is what counts
      ports: 'test/fixtures/offload/yusur.ports.json',
      verdicts: { d85b161b6840_h: 'offloaded' },
      exit: 0,
      reasons: [],
      check(r) {
        expect(r.ports[0]!.flows.offloaded).toEqual({
          flows: 2,
          packets: 81967,
          bytes: 109981294,
        });
      },
    },
    {
      verdicts: { d85b161b6840_h: 'offloaded', genev_sys_6081: 'offloaded' },
      exit: 0,
      reasons: [],
    },
  ],
  'sriovop-names-ct-zone.txt': [
    {
      verdicts: { eth0: 'unknown', eth1: 'unknown' },
      exit: 1,
      reasons: ['not-shown'],
      check(r) {
        expect(r.summary.flows.unknown.packets).toBe(271291993);
        expect(r.summary.flows.unknown.bytes).toBe(390806689771);
      },
    },
  ],
  'sriovop-vdpa-m-ct-drop.txt': [
    {
      verdicts: { ac63a8e99747603: 'offloaded', '8630f7a90005cdd': 'offloaded' },
      exit: 0,
      reasons: [],
      check(r) {
        // the IPv6 drop flow prints packets:0 and is still offloaded
        expect(r.ports[0]!.flows).toMatchObject({ total: 3, countersNotReported: 1 });
        expect(r.summary.flows.offloaded).toEqual({
          flows: 4,
          packets: 2202861,
          bytes: 3052484286,
        });
      },
    },
  ],
  'wangjun-m-grep-offload-single.txt': [
    {
      verdicts: { enp216s0f0: 'offloaded', enp216s0f0_0: 'offloaded' },
      exit: 0,
      reasons: [],
    },
    {
      select: { port: 'enp216s0f0_0' },
      verdicts: { enp216s0f0_0: 'offloaded' },
      exit: 0,
      reasons: [],
    },
  ],
  'wangjun-offloaded-numeric-ports.txt': [
    { verdicts: { '6': 'unknown', '4': 'unknown' }, exit: 1, reasons: ['not-shown'] },
    {
      // dpif/show maps the datapath numbers (not the OpenFlow ones) to the names -m prints
      ports: 'test/fixtures/offload/wangjun-dpif-show.txt',
      verdicts: { enp216s0f0: 'unknown', enp216s0f0_0: 'unknown' },
      exit: 1,
      reasons: ['not-shown'],
      check(r) {
        expect(r.ports.map((p) => [p.port, p.ofport, p.odp, p.bridge])).toEqual([
          ['enp216s0f0', 1, 6, 'br-ex'],
          ['enp216s0f0_0', 2, 4, 'br-ex'],
        ]);
        expect(r.notes).toEqual([]);
      },
    },
    {
      ports: 'test/fixtures/offload/wangjun-dpif-show.txt',
      select: { port: '4' },
      verdicts: { enp216s0f0_0: 'unknown' },
      exit: 1,
      reasons: ['not-shown'],
    },
  ],
};

describe('offload verdict on the published captures', () => {
  it('every capture has cases', () => {
    expect(Object.keys(CASES).sort()).toEqual(dumpflowsFixtureNames());
  });

  for (const [name, cases] of Object.entries(CASES)) {
    for (const [i, c] of cases.entries()) {
      const label = `${name}${c.ports ? ` + ${path.basename(c.ports)}` : ''}${c.select ? ` ${JSON.stringify(c.select)}` : ''} #${i}`;
      it(label, () => {
        const r = judge(name, c.ports, c.select);
        expect(verdicts(r)).toEqual(c.verdicts);
        expect(Object.keys(verdicts(r))).toEqual(Object.keys(c.verdicts));
        expect(exitCodeOf(r)).toBe(c.exit);
        expect(r.verdict).toBe(c.exit === 0 ? 'offloaded' : 'not-offloaded');
        expect(codes(r).sort()).toEqual([...c.reasons].sort());
        expect(r.source).toBe('dump');
        expect(r.parseErrors).toEqual({ count: 0, first: [] });
        c.check?.(r);
      });
    }
  }
});
