import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  autoRepresentorType,
  dpdkReadiness,
  judgePorts,
  parsePortsFile,
  type OffloadFacts,
  type OffloadReport,
  type PortEntry,
  type VswitchdDpdk,
} from '../../../src/offload/index.js';
import { parseDumpText } from '../../../src/ovs/dpctl/index.js';
import { dumpflowsFixture } from '../../helpers/dpctl-fixtures.js';

/**
 * The DPDK verdicts: proven on SYNTHETIC fixtures (test/fixtures/offload/dpdk, built from
 * lib/dpctl.c's format and labelled so), and the real captures kept honest: Yunsilicon's
 * userspace dump has no -m (unknown), YUSUR's is dp:tc (TC, not DPDK).
 */

const ROOT = path.resolve(import.meta.dirname, '../../..');
const DPDK_DIR = path.join(ROOT, 'test/fixtures/offload/dpdk');
const read = (rel: string) => readFileSync(path.join(ROOT, rel), 'utf8');

const dumpOf = (text: string) => {
  const d = parseDumpText(text);
  expect(d.errors).toEqual([]);
  return d.flows;
};
const dpdkPorts = () =>
  parsePortsFile(readFileSync(path.join(DPDK_DIR, 'ovs-dpdk.ports.json'), 'utf8'));
const codes = (r: OffloadReport, port: string) =>
  r.ports.find((p) => p.port === port)!.reasons.map((x) => x.code);

const HW_ON: OffloadFacts = {
  ovs: { hwOffload: true, tcPolicy: null, dpdk: { init: 'true', initialized: true } },
  nic: {
    pfs: [
      {
        pci: '0000:b3:00.0',
        eswitchMode: 'dpdk',
        inactive: false,
        uplink: null,
        representors: [],
        netdevs: [],
      },
    ],
  },
};

describe('synthetic OVS-DPDK -m dump', () => {
  const text = readFileSync(path.join(DPDK_DIR, 'ovs-dpdk-m.txt'), 'utf8');

  it('is labelled synthetic', () => {
    expect(text.split('\n')[0]).toMatch(/^# SYNTHETIC/);
    expect(readFileSync(path.join(DPDK_DIR, 'README.md'), 'utf8')).toMatch(/constructed/);
  });

  it('offloaded:yes dp:dpdk is offloaded, offloaded:partial dp:ovs partial, dp:ovs software', () => {
    const r = judgePorts(dumpOf(text), dpdkPorts(), HW_ON);
    expect(Object.fromEntries(r.ports.map((p) => [p.port, p.verdict]))).toEqual({
      pf0vf0rep: 'offloaded',
      pf0vf1rep: 'partial',
      pf0vf2rep: 'software',
    });
    const [full, partial, soft] = r.ports;
    expect(full!.flows.offloaded).toEqual({ flows: 2, packets: 1804589, bytes: 2705875980 });
    expect(full!.pf).toBe('0000:b3:00.0');
    expect(partial!.flows.partial.flows).toBe(1);
    expect(codes(r, 'pf0vf1rep')).toEqual(['partial-offload']);
    expect(soft!.flows.softwareDp).toEqual({ ovs: 1, tc: 0, dpdk: 0 });
    expect(codes(r, 'pf0vf2rep')).toEqual(['software-datapath']);
    // a DPDK port is not a kernel netdev on the userspace datapath: no userspace-datapath
    expect(r.ports.flatMap((p) => p.reasons.map((x) => x.code))).not.toContain(
      'userspace-datapath',
    );
    // the fix for a software DPDK flow points at rte_flow, not ethtool
    const fix = r.ports[2]!.reasons[0]!.fix!;
    expect(fix).toMatch(/offload-stats-show/);
    expect(fix).not.toMatch(/ethtool/);
    expect(r.verdict).toBe('not-offloaded');
  });

  it('DPDK representor ports are default subjects even without a pod', () => {
    const noPods = dpdkPorts().map((p) => ({ ...p, pod: null }));
    const r = judgePorts(dumpOf(text), noPods, HW_ON);
    expect(r.ports.map((p) => p.port)).toEqual(['pf0vf0rep', 'pf0vf1rep', 'pf0vf2rep']);
  });

  it('hw-offload off is the reason given for a DPDK port too', () => {
    const facts: OffloadFacts = { ...HW_ON, ovs: { hwOffload: null, tcPolicy: null } };
    const r = judgePorts(dumpOf(text), dpdkPorts(), facts, { select: { port: 'pf0vf2rep' } });
    expect(codes(r, 'pf0vf2rep')).toEqual(['hw-offload-off', 'software-datapath']);
  });
});

describe('a DPDK port Interface error', () => {
  const err = "Error attaching device '0000:81:00.0,representor=[1]' to DPDK";
  const port: PortEntry = {
    name: 'pf0vf1rep',
    ofport: -1,
    odp: null,
    bridge: 'br-int',
    pod: 'default/pod-b',
    type: 'dpdk',
    datapath: null,
    error: err,
    dpdkDevargs: '0000:81:00.0,representor=[1]',
  };

  it('interface-error quotes the error; the fix names the devargs forms', () => {
    const r = judgePorts([], [port], HW_ON);
    const reason = r.ports[0]!.reasons.find((x) => x.code === 'interface-error')!;
    expect(reason.message).toBe(`ovs-vswitchd cannot use pf0vf1rep: ${err}`);
    expect(reason.fix).toMatch(
      /no DPDK PMD could probe the devargs '0000:81:00.0,representor=\[1\]'/,
    );
    expect(reason.fix).toMatch(/representor=pf0vfN/);
  });

  it('DPDK not initialised comes first', () => {
    const notInit: OffloadFacts = {
      ...HW_ON,
      ovs: { hwOffload: true, tcPolicy: null, dpdk: { init: null, initialized: false } },
    };
    const reason = judgePorts([], [port], notInit).ports[0]!.reasons.find(
      (x) => x.code === 'interface-error',
    )!;
    expect(reason.fix).toMatch(/other_config:dpdk-init is not set/);
    const failed: OffloadFacts = {
      ...HW_ON,
      ovs: { hwOffload: true, tcPolicy: null, dpdk: { init: 'true', initialized: false } },
    };
    expect(
      judgePorts([], [port], failed).ports[0]!.reasons.find((x) => x.code === 'interface-error')!
        .fix,
    ).toMatch(/did not initialise.*EAL/);
  });

  it('a kernel netdev on a netdev bridge still gets userspace-datapath', () => {
    const kernel: PortEntry = {
      ...port,
      name: 'eth1_0',
      type: 'system',
      datapath: 'netdev@ovs-netdev',
      error: null,
      dpdkDevargs: null,
    };
    const r = judgePorts(
      dumpOf(
        'recirc_id(0),in_port(eth1_0),eth_type(0x0800), packets:3, bytes:294, used:0.1s, dp:ovs, actions:drop\n',
      ),
      [kernel],
      HW_ON,
    );
    expect(codes(r, 'eth1_0')).toContain('userspace-datapath');
  });
});

describe('the real userspace/vendor captures stay honest', () => {
  it('Yunsilicon (netdev datapath, no -m): unknown even when its ports are DPDK ports', () => {
    const ports = parsePortsFile(read('test/fixtures/offload/yunsilicon.ports.json')).map((p) => ({
      ...p,
      bridge: 'br-int',
      type: 'dpdk',
      datapath: 'netdev@ovs-netdev',
      dpdkDevargs: '0000:b3:00.0,representor=[0]',
    }));
    const r = judgePorts(dumpOf(dumpflowsFixture('kubeovn-yunsilicon-pmd-ct.txt')), ports, HW_ON, {
      select: { pod: 'default/pod-a' },
    });
    expect(r.ports.map((p) => [p.port, p.verdict])).toEqual([['3b1b4c0f7a44_h', 'unknown']]);
    expect(codes(r, '3b1b4c0f7a44_h')).toEqual(['not-shown']);
    expect(r.summary.flows.offloaded.flows).toBe(0);
  });

  it('YUSUR (offloaded:yes, dp:tc): offloaded through TC, never counted as DPDK', () => {
    const r = judgePorts(
      dumpOf(dumpflowsFixture('kubeovn-yusur-vendor-offload-counters.txt')),
      parsePortsFile(read('test/fixtures/offload/yusur.ports.json')),
      { ovs: null, nic: null },
    );
    expect(r.ports.map((p) => [p.port, p.verdict])).toEqual([['d85b161b6840_h', 'offloaded']]);
    expect(r.summary.flows.offloaded.flows).toBe(2);
    expect(r.summary.flows.softwareDp).toEqual({ ovs: 0, tc: 0, dpdk: 0 });
  });
});

describe('dpdkReadiness', () => {
  const ready: VswitchdDpdk = {
    dpdkInit: 'true',
    initialized: true,
    hwOffload: true,
    datapathTypes: { 'br-int': 'netdev', 'br-ex': '' },
  };

  it('all ok on a ready node; auto picks dpdk only on a netdev bridge with DPDK up', () => {
    expect(dpdkReadiness(ready, { bridge: 'br-int' }).every((f) => f.ok)).toBe(true);
    expect(autoRepresentorType(ready, 'br-int')).toBe('dpdk');
    expect(autoRepresentorType(ready, 'br-ex')).toBe('netdev');
    expect(autoRepresentorType({ ...ready, initialized: false }, 'br-int')).toBe('netdev');
    expect(autoRepresentorType({ ...ready, initialized: null }, 'br-int')).toBe('netdev');
  });

  it('each missing piece is one failed finding with its fix', () => {
    const bare: VswitchdDpdk = {
      dpdkInit: null,
      initialized: false,
      hwOffload: null,
      datapathTypes: { 'br-int': '' },
    };
    const f = dpdkReadiness(bare, { bridge: 'br-int' });
    expect(f.map((x) => [x.what, x.ok])).toEqual([
      ['dpdk-init', false],
      ['dpdk_initialized', false],
      ['hw-offload', false],
      ['datapath_type', false],
    ]);
    expect(f.every((x) => x.fix !== null)).toBe(true);
    expect(f[3]!.message).toMatch(/datapath_type=system \(unset\)/);
    // the agent's own ovs.hwOffload is said, not done here
    const willSet = dpdkReadiness(bare, { bridge: 'br-int', hwOffload: true })[2]!;
    expect(willSet.message).toMatch(/the agent sets it at start/);
    // an old schema without dpdk_initialized: that finding is left out, not guessed
    expect(
      dpdkReadiness({ ...ready, initialized: null }, { bridge: 'br-int' }).map((x) => x.what),
    ).toEqual(['dpdk-init', 'hw-offload', 'datapath_type']);
    expect(dpdkReadiness(ready, { bridge: 'br-x' })[3]!.message).toBe('bridge br-x does not exist');
  });
});
