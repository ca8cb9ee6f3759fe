import { describe, expect, it } from 'vitest';
import { judgePorts, renderReport, type PortEntry } from '../../../src/offload/index.js';
import { parseDumpText } from '../../../src/ovs/dpctl/index.js';
import { flowLine } from './flows.js';

/** The human output: table, per-port reasons with fixes, notes, one verdict line. */

const port = (name: string, pod: string | null): PortEntry => ({
  name,
  ofport: null,
  odp: null,
  bridge: 'br-int',
  pod,
  type: 'system',
  datapath: 'system@ovs-system',
  error: null,
});

describe('renderReport', () => {
  it('prints the table, the reasons of ports not offloaded, notes and the verdict', () => {
    const dump = parseDumpText(
      [
        flowLine({ in: 'rep0', out: ['rep1'], offloaded: 'yes', dp: 'tc', packets: 0, bytes: 0 }),
        flowLine({
          in: 'rep1',
          out: ['rep0'],
          offloaded: 'yes',
          dp: 'tc',
          packets: '18446744073709551615',
        }),
        flowLine({ in: 'rep2', out: ['rep0'], dp: 'ovs', packets: 5, bytes: 500 }),
        'not a flow',
      ].join('\n'),
    );
    const r = judgePorts(
      [...dump.flows, ...dump.errors],
      [port('rep0', 'ns/a'), port('rep1', 'ns/b'), port('rep2', null)],
      {
        ovs: { hwOffload: true, tcPolicy: null },
        nic: {
          pfs: [
            {
              pci: '0000:03:00.0',
              eswitchMode: 'switchdev',
              inactive: false,
              uplink: 'p0',
              representors: ['rep0', 'rep1', 'rep2'],
              netdevs: ['p0', 'rep0', 'rep1', 'rep2'],
            },
          ],
        },
      },
    );
    expect(renderReport(r)).toBe(
      [
        'node: hw-offload true, PF 0000:03:00.0 switchdev (uplink p0)',
        '',
        'PORT  POD   VERDICT    FLOWS  HW  PART  SW  ?               PACKETS  BYTES',
        'rep0  ns/a  partial        3   2     0   1  0  18446744073709551620   1500',
        'rep1  ns/b  offloaded      2   2     0   0  0  18446744073709551615   1000',
        'rep2  -     software       1   0     0   1  0                     5    500',
        '(HW offloaded:yes, PART offloaded:partial, SW in software; a flow counts for every port it touches)',
        '',
        'rep0 (ns/a): 1 offloaded flow prints packets:0: the NIC does not report counters for it, which is not a sign of no traffic',
        'rep0 (ns/a): partial',
        '  - some-software: 1 of 3 flows (5 packets) are switched in software',
        '  - software-datapath: 1 flow is in the OVS datapath (dp:ovs), not in the NIC; hw-offload is on, so the NIC or driver refused it (see ovs-vswitchd.log)',
        '    fix: check ovs-vswitchd.log for offload errors and `ethtool -k <uplink|representor>` for hw-tc-offload: on',
        'rep1 (ns/b): 1 offloaded flow prints packets:0: the NIC does not report counters for it, which is not a sign of no traffic',
        'rep2: software',
        '  - software-datapath: 1 flow is in the OVS datapath (dp:ovs), not in the NIC; hw-offload is on, so the NIC or driver refused it (see ovs-vswitchd.log)',
        '    fix: check ovs-vswitchd.log for offload errors and `ethtool -k <uplink|representor>` for hw-tc-offload: on',
        '',
        'note: 1 line is not a flow (line 4: not a flow field: "not a flow")',
        '',
        'verdict: not offloaded (1 of 3 ports offloaded)',
        '',
      ].join('\n'),
    );
  });
});
