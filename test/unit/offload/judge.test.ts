import { describe, expect, it } from 'vitest';
import {
  exitCodeOf,
  judgePorts,
  type OffloadFacts,
  type PfFact,
  type PortEntry,
  type ReasonCode,
} from '../../../src/offload/index.js';
import { NotFoundError } from '../../../src/sys/index.js';
import { flows, type FlowSpec } from './flows.js';

/** The verdict on synthetic nodes: one case per reason it can tell, and the port rules. */

const PF: PfFact = {
  pci: '0000:03:00.0',
  eswitchMode: 'switchdev',
  inactive: false,
  uplink: 'p0',
  representors: ['p0_0', 'p0_1', 'p0_2'],
  netdevs: ['p0', 'p0_0', 'p0_1', 'p0_2'],
};

const FACTS: OffloadFacts = {
  ovs: { hwOffload: true, tcPolicy: null },
  nic: { pfs: [PF] },
};

function port(name: string, over: Partial<PortEntry> = {}): PortEntry {
  return {
    name,
    ofport: null,
    odp: null,
    bridge: 'br-int',
    pod: null,
    type: 'system',
    datapath: 'system@ovs-system',
    error: null,
    ...over,
  };
}

const PORTS: PortEntry[] = [
  port('br-int', { type: 'internal', ofport: 65534, odp: 1 }),
  port('p0', { ofport: 1, odp: 2 }),
  port('p0_0', { ofport: 2, odp: 3, pod: 'ns/a' }),
  port('p0_1', { ofport: 3, odp: 4, pod: 'ns/b' }),
];

const hw = (s: FlowSpec): FlowSpec => ({ offloaded: 'yes', dp: 'tc', ...s });
const sw = (s: FlowSpec): FlowSpec => ({ dp: 'ovs', ...s });

function codesOf(r: ReturnType<typeof judgePorts>, p: string): ReasonCode[] {
  const found = r.ports.find((x) => x.port === p);
  if (!found) throw new Error(`no port ${p} in ${r.ports.map((x) => x.port).join(',')}`);
  return found.reasons.map((x) => x.code);
}

function messageOf(r: ReturnType<typeof judgePorts>, p: string, code: ReasonCode): string {
  const reason = r.ports.find((x) => x.port === p)?.reasons.find((x) => x.code === code);
  if (!reason) throw new Error(`no ${code} on ${p}`);
  return `${reason.message} | fix: ${reason.fix ?? '-'}`;
}

describe('judgePorts: verdicts', () => {
  it('pods whose flows are all offloaded: offloaded, no reasons, exit 0', () => {
    const r = judgePorts(
      flows(hw({ in: 'p0_0', out: ['p0_1'] }), hw({ in: 'p0_1', out: ['p0_0'] })),
      PORTS,
      FACTS,
    );
    expect(r.ports.map((p) => [p.port, p.pod, p.pf, p.verdict, p.reasons])).toEqual([
      ['p0_0', 'ns/a', '0000:03:00.0', 'offloaded', []],
      ['p0_1', 'ns/b', '0000:03:00.0', 'offloaded', []],
    ]);
    expect(r.verdict).toBe('offloaded');
    expect(r.source).toBe('live');
    expect(exitCodeOf(r)).toBe(0);
  });

  it('packets:0 on offloaded flows is "counters not reported": still offloaded', () => {
    const r = judgePorts(
      flows(hw({ in: 'p0_0', out: ['p0_1'], packets: 0, bytes: 0 })),
      PORTS,
      FACTS,
      { select: { port: 'p0_0' } },
    );
    expect(r.ports[0]).toMatchObject({ verdict: 'offloaded', reasons: [] });
    expect(r.ports[0]!.flows.countersNotReported).toBe(1);
    expect(exitCodeOf(r)).toBe(0);
  });

  it('some flows offloaded, some in software: partial, with how much is in software', () => {
    const r = judgePorts(
      flows(
        hw({ in: 'p0_0', out: ['p0_1'], packets: 90 }),
        sw({ in: 'p0_0', out: ['br-int'], packets: 7 }),
      ),
      PORTS,
      FACTS,
      { select: { pod: 'ns/a' } },
    );
    expect(r.ports[0]!.verdict).toBe('partial');
    expect(codesOf(r, 'p0_0')).toEqual(['some-software', 'software-datapath']);
    expect(messageOf(r, 'p0_0', 'some-software')).toMatch(/^1 of 2 flows \(7 packets\)/);
    expect(messageOf(r, 'p0_0', 'software-datapath')).toMatch(/^1 flow is in the OVS datapath/);
    expect(exitCodeOf(r)).toBe(1);
  });

  it('offloaded:partial (DPDK mark offload) is partial, never offloaded', () => {
    const r = judgePorts(
      flows({ in: 'p0_0', out: ['p0_1'], offloaded: 'partial', dp: 'dpdk' }),
      PORTS,
      FACTS,
      { select: { port: 'p0_0' } },
    );
    expect(r.ports[0]!.verdict).toBe('partial');
    expect(codesOf(r, 'p0_0')).toEqual(['partial-offload']);
    expect(exitCodeOf(r)).toBe(1);
  });

  it('no flow touches the port: no-flows (no traffic yet), not offloaded', () => {
    const r = judgePorts(flows(hw({ in: 'p0_0', out: ['p0'] })), PORTS, FACTS);
    expect(r.ports.map((p) => p.verdict)).toEqual(['offloaded', 'no-flows']);
    expect(codesOf(r, 'p0_1')).toEqual(['no-flows']);
    expect(r.verdict).toBe('not-offloaded');
    expect(r.summary).toMatchObject({ ports: 2, offloadedPorts: 1 });
  });
});

describe('judgePorts: reasons', () => {
  it.each([
    [null, /other_config:hw-offload is not set \(OVS default: false\)/],
    [false, /other_config:hw-offload is false/],
  ])('hw-offload %s → hw-offload-off with the fix', (hwOffload, message) => {
    const facts = { ...FACTS, ovs: { hwOffload, tcPolicy: null } };
    const r = judgePorts(flows(sw({ in: 'p0_0', out: ['p0_1'] })), PORTS, facts);
    expect(codesOf(r, 'p0_0')).toEqual(['hw-offload-off', 'software-datapath']);
    expect(messageOf(r, 'p0_0', 'hw-offload-off')).toMatch(message);
    expect(messageOf(r, 'p0_0', 'hw-offload-off')).toMatch(/other_config:hw-offload=true/);
    expect(messageOf(r, 'p0_0', 'software-datapath')).not.toMatch(/hw-offload is on/);
  });

  it('all flows dp:ovs with hw-offload on: software-datapath says the NIC refused them', () => {
    const r = judgePorts(flows(sw({ in: 'p0_0', out: ['p0_1'] })), PORTS, FACTS);
    expect(r.ports[0]!.verdict).toBe('software');
    expect(codesOf(r, 'p0_0')).toEqual(['software-datapath']);
    expect(messageOf(r, 'p0_0', 'software-datapath')).toMatch(
      /^1 flow is in the OVS datapath \(dp:ovs\).*hw-offload is on.*\| fix: check ovs-vswitchd.log/,
    );
  });

  it('dp:tc without offloaded: tc-software; with tc-policy=skip_hw it names the policy', () => {
    const f = flows({ in: 'p0_0', out: ['p0_1'], dp: 'tc' }, { in: 'p0_1', dp: 'tc' });
    const r = judgePorts(f, PORTS, FACTS, { select: { port: 'p0_1' } });
    expect(codesOf(r, 'p0_1')).toEqual(['tc-software']);
    expect(messageOf(r, 'p0_1', 'tc-software')).toMatch(
      /^all 2 flows are in TC but not in hardware.*hw-tc-offload/,
    );
    const skip = judgePorts(f, PORTS, { ...FACTS, ovs: { hwOffload: true, tcPolicy: 'skip_hw' } });
    expect(messageOf(skip, 'p0_1', 'tc-software')).toMatch(
      /tc-policy=skip_hw.*\| fix: ovs-vsctl remove/,
    );
  });

  it('dp:dpdk without offloaded: dpdk-software', () => {
    const r = judgePorts(flows({ in: 'p0_0', out: ['p0_1'], dp: 'dpdk' }), PORTS, FACTS);
    expect(codesOf(r, 'p0_0')).toEqual(['dpdk-software']);
  });

  it('the PF of a port in legacy mode: eswitch-legacy names the PF and the devlink command', () => {
    const legacy: PfFact = {
      ...PF,
      eswitchMode: 'legacy',
      uplink: null,
      representors: [],
      netdevs: ['enp3s0'],
    };
    const ports = [port('enp3s0', { odp: 2 }), port('veth-a', { pod: 'ns/a' })];
    const r = judgePorts(
      flows(sw({ in: 'enp3s0', out: ['veth-a'] })),
      ports,
      {
        ...FACTS,
        nic: { pfs: [legacy] },
      },
      { select: { port: 'enp3s0' } },
    );
    expect(r.ports[0]!.pf).toBe('0000:03:00.0');
    expect(codesOf(r, 'enp3s0')).toEqual(['eswitch-legacy', 'software-datapath']);
    expect(messageOf(r, 'enp3s0', 'eswitch-legacy')).toMatch(
      /^PF 0000:03:00.0 is in legacy eswitch mode.*devlink dev eswitch set pci\/0000:03:00.0 mode switchdev/,
    );
  });

  it('no PF in switchdev at all: a pod port on OVS gets eswitch-legacy for the node', () => {
    const legacy: PfFact = {
      ...PF,
      eswitchMode: 'legacy',
      uplink: null,
      representors: [],
      netdevs: ['enp3s0'],
    };
    const r = judgePorts([], [port('enp3s0v0', { pod: 'ns/a' })], {
      ...FACTS,
      nic: { pfs: [legacy] },
    });
    expect(codesOf(r, 'enp3s0v0')).toEqual(['eswitch-legacy', 'no-flows']);
    expect(messageOf(r, 'enp3s0v0', 'eswitch-legacy')).toMatch(
      /no SR-IOV PF of this node is in switchdev mode \(0000:03:00.0 legacy\)/,
    );
  });

  it('switchdev but inactive: eswitch-inactive', () => {
    const r = judgePorts(
      [],
      PORTS,
      { ...FACTS, nic: { pfs: [{ ...PF, inactive: true }] } },
      {
        select: { port: 'p0_0' },
      },
    );
    expect(codesOf(r, 'p0_0')).toEqual(['eswitch-inactive', 'no-flows']);
  });

  it('a representor on no bridge: not-on-bridge, whether OVSDB has no row or a row without bridge', () => {
    const r = judgePorts([], PORTS, FACTS, { select: { port: 'p0_2' } });
    expect(r.ports[0]).toMatchObject({
      port: 'p0_2',
      pf: '0000:03:00.0',
      bridge: null,
      verdict: 'no-flows',
    });
    expect(codesOf(r, 'p0_2')).toEqual(['not-on-bridge', 'no-flows']);
    expect(messageOf(r, 'p0_2', 'not-on-bridge')).toMatch(/ovs-vsctl add-port br-int p0_2/);
    const row = judgePorts([], [port('p0_2', { bridge: null, pod: 'ns/c' })], FACTS);
    expect(codesOf(row, 'p0_2')).toEqual(['not-on-bridge', 'no-flows']);
  });

  it('ovs-vswitchd cannot open the device: interface-error with its text', () => {
    const ports = [
      port('p0_1', { pod: 'ns/b', error: 'could not open network device p0_1 (No such device)' }),
    ];
    const r = judgePorts([], ports, FACTS);
    expect(codesOf(r, 'p0_1')).toEqual(['interface-error', 'no-flows']);
    expect(messageOf(r, 'p0_1', 'interface-error')).toMatch(/No such device/);
  });

  it('a pod port that is no representor of a switchdev PF: not-a-representor', () => {
    const r = judgePorts(
      flows(sw({ in: 'veth9', out: ['p0_0'] })),
      [...PORTS, port('veth9', { pod: 'ns/v' })],
      FACTS,
      {
        select: { pod: 'ns/v' },
      },
    );
    expect(codesOf(r, 'veth9')).toEqual(['not-a-representor', 'software-datapath']);
  });

  it('a kernel netdev on the userspace datapath: userspace-datapath', () => {
    const ports = [port('p0_0', { pod: 'ns/a', datapath: 'netdev@ovs-netdev', type: 'system' })];
    const r = judgePorts(flows(sw({ in: 'p0_0' })), ports, FACTS);
    expect(codesOf(r, 'p0_0')).toEqual(['userspace-datapath', 'software-datapath']);
    expect(messageOf(r, 'p0_0', 'userspace-datapath')).toMatch(/datapath_type=system/);
  });

  it('a capture (no node facts): reasons from the flows only, a missing bridge means nothing', () => {
    const ports = [port('p0_0', { pod: 'ns/a', bridge: null, type: null, datapath: null })];
    const r = judgePorts(flows(sw({ in: 'p0_0' })), ports, { ovs: null, nic: null });
    expect(r.source).toBe('dump');
    expect(codesOf(r, 'p0_0')).toEqual(['software-datapath']);
  });
});

describe('judgePorts: ports', () => {
  it('datapath numbers resolve through odp (not ofport) and merge with names', () => {
    // p0_0 has ofport 2 and odp 3: "in_port(2)" is the uplink p0, not p0_0
    const r = judgePorts(
      flows(
        hw({ in: '3', out: ['4'] }),
        hw({ in: 'p0_0', out: ['p0_1'] }),
        hw({ in: '2', out: ['3'] }),
      ),
      PORTS,
      FACTS,
      { select: { port: 'p0_0' } },
    );
    expect(r.ports[0]).toMatchObject({ port: 'p0_0', odp: 3, ofport: 2, verdict: 'offloaded' });
    expect(r.ports[0]!.flows.total).toBe(3);
    expect(r.notes).toEqual([]);
  });

  it('a number two datapaths both use maps to neither, and says so', () => {
    const ports = [
      port('a', { odp: 2, pod: 'ns/a', datapath: 'system@ovs-system' }),
      port('b', { odp: 2, pod: 'ns/b', datapath: 'netdev@ovs-netdev' }),
    ];
    const r = judgePorts(flows(hw({ in: '2' })), ports, { ovs: null, nic: null });
    expect(r.ports.map((p) => p.verdict)).toEqual(['no-flows', 'no-flows']);
    expect(r.notes[0]).toMatch(
      /datapath port numbers \(2\) that no port maps: they are not in the port table/,
    );
  });

  it('default: pod ports and VF representors on OVS; the uplink and bridge port are context only', () => {
    const ports = [...PORTS, port('p0_2', { odp: 5 })];
    const r = judgePorts(flows(sw({ in: 'p0', out: ['br-int', 'p0_0'] })), ports, FACTS);
    expect(r.ports.map((p) => p.port)).toEqual(['p0_0', 'p0_1', 'p0_2']);
    expect(r.summary.flows.total).toBe(1);
  });

  it('nothing identifies pods: every port the flows touch, except bridge-internal ports', () => {
    const ports = [port('br-int', { type: 'internal' }), port('x'), port('y')];
    const r = judgePorts(flows(hw({ in: 'x', out: ['y', 'br-int'] }), hw({ in: '9' })), ports, {
      ovs: null,
      nic: null,
    });
    expect(r.ports.map((p) => p.port)).toEqual(['x', 'y', '9']);
  });

  it('nothing at all: verdict no-ports, exit 1, with a note', () => {
    const r = judgePorts([], [], FACTS);
    expect(r.verdict).toBe('no-ports');
    expect(exitCodeOf(r)).toBe(1);
    expect(r.notes.join()).toMatch(/nothing to check/);
  });

  it('a port or pod that is nowhere: NotFoundError', () => {
    expect(() => judgePorts([], PORTS, FACTS, { select: { port: 'nope' } })).toThrow(NotFoundError);
    expect(() => judgePorts([], PORTS, FACTS, { select: { port: 'nope' } })).toThrow(
      /port nope: not in OVS, the NIC or the dump/,
    );
    expect(() => judgePorts([], PORTS, FACTS, { select: { pod: 'ns/zz' } })).toThrow(
      /pod ns\/zz: no port has external_ids pod_namespace\/pod_name/,
    );
  });

  it('the report is the documented JSON object, fields in order', () => {
    const r = judgePorts(flows(hw({ in: 'p0_0' })), PORTS, FACTS, { select: { port: 'p0_0' } });
    const doc = JSON.parse(JSON.stringify(r)) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual([
      'source',
      'verdict',
      'ports',
      'summary',
      'facts',
      'notes',
      'parseErrors',
    ]);
    expect(Object.keys(r.ports[0]!)).toEqual([
      'port',
      'odp',
      'ofport',
      'bridge',
      'pod',
      'pf',
      'verdict',
      'flows',
      'reasons',
    ]);
    expect(Object.keys(r.ports[0]!.flows)).toEqual([
      'total',
      'offloaded',
      'partial',
      'software',
      'unknown',
      'softwareDp',
      'countersNotReported',
      'ct',
    ]);
    expect(Object.keys(r.summary)).toEqual(['ports', 'offloadedPorts', 'flows']);
  });
});
