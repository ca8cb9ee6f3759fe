import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  classifyMessage,
  judgePorts,
  parseVlogLine,
  scanVswitchdLog,
  UfidWatch,
  ufidsOf,
  type OffloadFacts,
  type PortEntry,
  type RefusalCause,
} from '../../../src/offload/index.js';
import { parseDumpText } from '../../../src/ovs/dpctl/index.js';
import { files } from '../../../src/sys/index.js';
import { flows } from './flows.js';

/**
 * The vswitchd log grammar and refusal classes on real lines (test/fixtures/vswitchd-log,
 * each block under its source), and attribution of refusals to ports in the verdict.
 */

const DIR = path.resolve(import.meta.dirname, '../../fixtures/vswitchd-log');
const PUBLIC = readFileSync(path.join(DIR, 'public.log'), 'utf8');

/** Each fixture line with the source line above it. */
function sourced(text: string): { source: string; line: string }[] {
  let source = '';
  const out: { source: string; line: string }[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('# source: ')) source = line.slice('# source: '.length);
    else if (line !== '' && !line.startsWith('#')) out.push({ source, line });
  }
  return out;
}

const publicLine = (needle: string): string => {
  const hit = sourced(PUBLIC).find((l) => l.line.includes(needle));
  if (!hit) throw new Error(`no fixture line with ${needle}`);
  return hit.line;
};

describe('fixtures', () => {
  it('every fixture line has its source above it', () => {
    const all = [
      ...sourced(PUBLIC),
      ...sourced(readFileSync(path.join(DIR, 'messages.txt'), 'utf8')),
    ];
    expect(all.length).toBeGreaterThan(20);
    for (const { source, line } of all) expect(source, line).not.toBe('');
  });
});

describe('parseVlogLine (time|seq|module(thread)|level|message)', () => {
  it('ovn-kubernetes #839: dpif_netlink(handler2) ERR', () => {
    expect(parseVlogLine(publicLine('00035|dpif_netlink(handler2)'))).toEqual({
      time: '2019-09-23T03:14:48.824Z',
      seq: 35,
      module: 'dpif_netlink',
      thread: 'handler2',
      level: 'ERR',
      message: 'failed to offload flow: Operation not supported: 621b9db0ed0b6aa',
    });
  });

  it('ovn-kubernetes #839: a time without milliseconds and no thread', () => {
    expect(parseVlogLine(publicLine('The kernel module does not support meters'))).toMatchObject({
      time: '2019-09-23T03:15:37Z',
      module: 'dpif_netlink',
      thread: null,
      level: 'INFO',
    });
  });

  it('ovs-issues #321: a thread name with a slash and a colon', () => {
    expect(parseVlogLine(publicLine('tun_port_p0: Tunnel offload'))).toMatchObject({
      module: 'netdev_dpdk',
      thread: 'pmd-c02/id:88',
      level: 'WARN',
    });
  });

  it('a continuation line of a multi-line message is not a vlog line', () => {
    expect(parseVlogLine('  Attributes: ingress=1, egress=0, prio=0, group=0, transfer=0')).toBe(
      null,
    );
    expect(parseVlogLine('')).toBe(null);
    expect(parseVlogLine('2019-09-23T03:14:48.824Z|00035|dpif_netlink|NOTICE|x')).toBe(null);
  });
});

describe('scanVswitchdLog on the public lines', () => {
  const scan = scanVswitchdLog(PUBLIC);
  const by = (needle: string) => scan.refusals.find((r) => r.line.includes(needle));

  it('finds the refusals, and only those', () => {
    expect(scan.refusals.map((r) => [r.module, r.cause, r.netdev])).toEqual([
      ['dpif_netlink', 'offload-failed', '621b9db0ed0b6aa'],
      ['dpif_netlink', 'offload-failed', '621b9db0ed0b6aa'],
      ['dpif_netlink', 'offload-failed', 'ovn-f14c0f-0'],
      ['dpif_netlink', 'offload-failed', 'br-ext'],
      ['netdev_offload_tc', 'ct-not-supported', null],
      ['netdev_offload_tc', 'ct-not-supported', null],
      ['netdev_offload_dpdk', 'offload-failed', 'dpdk0'],
      ['netdev_offload_dpdk', 'offload-failed', 'dpdk0'],
    ]);
  });

  it('ovn-kubernetes #839: "failed to offload flow: Operation not supported: <netdev>"', () => {
    const r = by('00035|dpif_netlink')!;
    expect(r.detail).toBe('Operation not supported');
    expect(r.line).toBe(publicLine('00035|dpif_netlink'));
  });

  it('ovn #160: "No such file or directory" names the tunnel port and the bridge', () => {
    expect(by('ovn-f14c0f-0')!.detail).toBe('No such file or directory');
  });

  it('ovn #173: "flow_put: recirc_id sharing not supported" is the conntrack leg', () => {
    expect(by('recirc_id sharing')!.cause).toBe('ct-not-supported');
  });

  it('OVS-DPDK 2.13: "dpdk0: rte_flow creation failed: 1 (Function not implemented)."', () => {
    const r = by('rte_flow creation failed')!;
    expect([r.netdev, r.detail]).toEqual(['dpdk0', '1 (Function not implemented)']);
  });

  it('counts the rate limiter drops of offload modules only (2 + 13 + 27, not netdev_dpdk 10)', () => {
    expect(scan.suppressed).toBe(42);
  });

  it('INFO chatter, netdev_dpdk tx offload and dpif put errors are no refusal', () => {
    for (const needle of [
      'added ingress qdisc',
      "Assigned flow API 'linux_tc'",
      'Tunnel offload:',
      'failed to put[create]',
      'Failed flow:',
    ]) {
      expect(by(needle), needle).toBeUndefined();
    }
  });

  it('ufids the lines name are collected (lowercase)', () => {
    const s = scanVswitchdLog(
      "2024-01-12T07:12:51.657Z|00081|netdev_offload_tc(handler51)|ERR|ufid:5DF6220D-E2D2-48F8-A6A4-5C47CCC869C4: offloading attribute dp_hash isn't supported\n",
    );
    expect([...ufidsOf(s)]).toEqual(['5df6220d-e2d2-48f8-a6a4-5c47ccc869c4']);
  });
});

describe('classifyMessage on OVS, kernel and driver texts (messages.txt)', () => {
  const cases = sourced(readFileSync(path.join(DIR, 'messages.txt'), 'utf8')).map(({ line }) => {
    const bar = line.indexOf('|');
    return { module: line.slice(0, bar), message: line.slice(bar + 1) };
  });
  const expected: [string, RefusalCause, string | null][] = [
    ["offloading attribute pkt_mark isn't supported", 'unsupported-match', null],
    ["offloading attribute dp_hash isn't supported", 'unsupported-match', null],
    ["offloading of IPv6 fragments isn't supported", 'unsupported-match', null],
    ['unsupported put action type: 12', 'unsupported-action', null],
    ['unsupported set action type: 4', 'unsupported-action', null],
    ['unsupported tunnel key attribute TP_SRC', 'encap-not-supported', null],
    ['flow_put: recirc_id sharing not supported', 'ct-not-supported', null],
    ['failed to offload flow: Operation not supported: enp4s0f0_1', 'offload-failed', 'enp4s0f0_1'],
    ['failed to offload flow: No space left on device: enp4s0f0', 'offload-failed', 'enp4s0f0'],
    ['dpdk0: rte_flow creation failed [1 (Function not implemented)]', 'offload-failed', 'dpdk0'],
    ['TC offload is disabled on net device', 'hw-tc-offload-off', null],
    ["devices are not on same switch HW, can't offload forwarding", 'driver-refused', null],
    ['Failed to set registers for ct clear', 'ct-not-supported', null],
  ];

  it('has one expectation per fixture message', () => {
    expect(cases).toHaveLength(expected.length);
  });

  for (const [needle, cause, netdev] of expected) {
    it(`${cause}: ${needle}`, () => {
      const c = cases.find((x) => x.message.includes(needle));
      expect(c, needle).toBeDefined();
      expect(classifyMessage(c!.module, c!.message)).toMatchObject({ cause, netdev });
    });
  }

  it('a non-offload module says no refusal, whatever its words', () => {
    expect(
      classifyMessage('netdev_linux', 'Received an unsupported packet with UFO enabled.'),
    ).toBe(null);
  });
});

describe('attribution in the verdict', () => {
  const FACTS: OffloadFacts = { ovs: { hwOffload: true, tcPolicy: null }, nic: null };
  const port = (name: string, odp: number): PortEntry => ({
    name,
    ofport: null,
    odp,
    bridge: 'br-int',
    pod: `ns1/${name}`,
    type: 'system',
    datapath: 'system@ovs-system',
    error: null,
  });
  const PORTS = [port('enp4s0f0_1', 2), port('enp4s0f0_2', 3)];
  const sw = flows({ in: '2', out: ['3'], dp: 'ovs' }, { in: '3', out: ['2'], dp: 'ovs' });

  it('by the netdev a line names: one reason per cause, the line quoted, the fix', () => {
    const scan = scanVswitchdLog(
      [
        '2025-01-01T00:00:01.000Z|00010|dpif_netlink(handler1)|ERR|failed to offload flow: Operation not supported: enp4s0f0_1',
        '2025-01-01T00:00:02.000Z|00011|dpif_netlink(handler1)|ERR|failed to offload flow: Operation not supported: enp4s0f0_1',
        '2025-01-01T00:00:03.000Z|00012|dpif_netlink(handler1)|ERR|Dropped 5 log messages in last 8 seconds (most recently, 1 seconds ago) due to excessive rate',
      ].join('\n'),
    );
    const r = judgePorts(sw, PORTS, FACTS, { vswitchdLog: { scan } });
    const p1 = r.ports.find((p) => p.port === 'enp4s0f0_1')!;
    const refused = p1.reasons.filter((x) => x.code.startsWith('refused-'));
    expect(refused).toHaveLength(1);
    expect(refused[0]!.code).toBe('refused-flow');
    expect(refused[0]!.message).toContain(
      '2 flows on enp4s0f0_1 refused (Operation not supported)',
    );
    expect(refused[0]!.message).toContain('|00011|dpif_netlink(handler1)|ERR|');
    expect(refused[0]!.evidence).toHaveLength(2);
    expect(refused[0]!.evidence![0]).toContain('|00011|');
    expect(refused[0]!.fix).toContain('ethtool -K enp4s0f0_1 hw-tc-offload on');
    const p2 = r.ports.find((p) => p.port === 'enp4s0f0_2')!;
    expect(p2.reasons.some((x) => x.code.startsWith('refused-'))).toBe(false);
    expect(r.notes).toEqual([
      'ovs-vswitchd.log: the rate limiter dropped 5 offload log messages: more flows may have been refused than the log shows',
    ]);
  });

  it("by the ufid a line names: the dump flow's in_port", () => {
    const dump = parseDumpText(
      'ufid:0a1b2c3d-0000-4000-8000-00000000abcd, recirc_id(0),in_port(3),eth_type(0x0800),ipv4(frag=no), packets:1, bytes:98, used:0.1s, dp:ovs, actions:2\n',
    );
    const scan = scanVswitchdLog(
      "2025-01-01T00:00:01.000Z|00010|netdev_offload_tc(handler1)|DBG|ufid:0a1b2c3d-0000-4000-8000-00000000abcd: offloading attribute pkt_mark isn't supported\n",
    );
    const watch = new UfidWatch(ufidsOf(scan));
    for (const f of dump.flows) watch.see(f);
    expect([...watch.ports]).toEqual([['0a1b2c3d-0000-4000-8000-00000000abcd', '3']]);
    const r = judgePorts(dump.flows, PORTS, FACTS, {
      vswitchdLog: { scan, ufidPorts: watch.ports },
    });
    const codes = r.ports.map((p) => [
      p.port,
      p.reasons.filter((x) => x.code.startsWith('refused-')).map((x) => x.code),
    ]);
    expect(codes).toEqual([
      ['enp4s0f0_1', []],
      ['enp4s0f0_2', ['refused-match']],
    ]);
  });

  it('ct refusals with tc-policy=skip_sw say that skip_sw breaks ct offload', () => {
    const scan = scanVswitchdLog(
      '2025-01-01T00:00:01.000Z|00010|tc(handler1)|ERR|Error: mlx5_core: Failed to set registers for ct clear. enp4s0f0_2\n',
    );
    const r = judgePorts(
      sw,
      PORTS,
      { ...FACTS, ovs: { hwOffload: true, tcPolicy: 'skip_sw' } },
      {
        vswitchdLog: { scan },
      },
    );
    const reason = r.ports[1]!.reasons.find((x) => x.code === 'refused-ct')!;
    expect(reason.fix).toMatch(/CT offload/);
    expect(reason.fix).toMatch(/tc-policy=skip_sw breaks CT offload/);
  });

  it('refusals about no port checked are one note with the latest line', () => {
    const scan = scanVswitchdLog(PUBLIC);
    const r = judgePorts(sw, PORTS, FACTS, { vswitchdLog: { scan } });
    expect(r.notes[0]).toMatch(
      /^ovs-vswitchd\.log: 8 offload refusals about no port checked here; latest: "2022-11-28T09:19:14\.641Z\|00005\|/,
    );
    expect(r.notes[1]).toMatch(/dropped 42 offload log messages/);
  });

  it('an offloaded port gets no refusal reason (the log is history)', () => {
    const off = flows({ in: '2', out: ['3'], dp: 'tc', offloaded: 'yes' });
    const scan = scanVswitchdLog(
      '2025-01-01T00:00:01.000Z|00010|dpif_netlink(handler1)|ERR|failed to offload flow: Operation not supported: enp4s0f0_1\n',
    );
    const r = judgePorts(off, PORTS, FACTS, { vswitchdLog: { scan } });
    expect(r.ports[0]!.reasons).toEqual([]);
  });
});

describe('Files.readTail', () => {
  it('reads whole files under the bound, and only the last whole lines over it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tail-'));
    try {
      const p = path.join(dir, 'ovs-vswitchd.log');
      await writeFile(p, 'line one\nline two\nline three\n');
      expect(await files.readTail(p, 1024)).toEqual({
        text: 'line one\nline two\nline three\n',
        truncated: false,
      });
      // 14 bytes from the end: "two\nline three\n" → the partial "two" is dropped
      expect(await files.readTail(p, 15)).toEqual({ text: 'line three\n', truncated: true });
      await expect(files.readTail(path.join(dir, 'absent'), 10)).rejects.toThrow(/absent/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
