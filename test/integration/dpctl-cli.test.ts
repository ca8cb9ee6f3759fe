import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDumpText, type FlowDump } from '../../src/ovs/dpctl/index.js';
import {
  DUMPFLOWS_DIR,
  dumpflowsFixture,
  dumpflowsFixtureNames,
} from '../helpers/dpctl-fixtures.js';

/** `ovs-offload flows` as users run it: the built executable, files and stdin, exit codes. */
function flows(args: string[], input?: string) {
  const r = spawnSync('bin/ovs-offload', ['flows', ...args], {
    input: input ?? '',
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const fixture = (name: string) => path.join(DUMPFLOWS_DIR, name);

describe('ovs-offload flows', () => {
  it('--json keeps a last line without a newline inside the flows array', () => {
    const line = 'recirc_id(0),in_port(1), packets:1, bytes:1, used:never, actions:1';
    for (const args of [
      ['-', '--json'],
      ['-', '--json', '--port', '1'],
    ]) {
      const r = flows(args, line);
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout) as FlowDump;
      expect(doc.flows.map((f) => f.raw)).toEqual([line]);
      expect(doc.summary).toMatchObject({ flows: 1, packets: 1, bytes: 1 });
    }
  });

  it('--json on every published dump is the §3.3 document, summary facts included', () => {
    const summaries: Record<string, FlowDump['summary']> = {};
    for (const name of dumpflowsFixtureNames()) {
      const r = flows([fixture(name), '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      const doc = JSON.parse(r.stdout) as FlowDump;
      expect(Object.keys(doc)).toEqual(['flows', 'summary', 'errors']);
      expect(doc).toEqual(parseDumpText(dumpflowsFixture(name)));
      for (const f of doc.flows) {
        expect(Object.keys(f)).toEqual([
          'inPort',
          'ufid',
          'packets',
          'bytes',
          'used',
          'dp',
          'offloaded',
          'match',
          'actions',
          'dpExtraInfo',
          'extra',
          'raw',
        ]);
      }
      summaries[name] = doc.summary;
    }
    expect(summaries).toEqual({
      'charmguide-ovn-geneve-key6.txt': {
        flows: 8,
        packets: 1120524,
        bytes: 7544525470,
        offloaded: 0,
      },
      'kubeovn-corigine-m-offloaded.txt': {
        flows: 2,
        packets: 83328198,
        bytes: 116006996403,
        offloaded: 2,
      },
      'kubeovn-yunsilicon-pmd-ct.txt': { flows: 6, packets: 34, bytes: 3332, offloaded: 0 },
      'kubeovn-yusur-vendor-offload-counters.txt': {
        flows: 2,
        packets: 81967,
        bytes: 109981294,
        offloaded: 2,
      },
      'sriovop-names-ct-zone.txt': {
        flows: 4,
        packets: 271291993,
        bytes: 390806689771,
        offloaded: 0,
      },
      'sriovop-vdpa-m-ct-drop.txt': { flows: 4, packets: 2202861, bytes: 3052484286, offloaded: 4 },
      'wangjun-m-grep-offload-single.txt': {
        flows: 1,
        packets: 54114480,
        bytes: 81929308428,
        offloaded: 1,
      },
      'wangjun-offloaded-numeric-ports.txt': {
        flows: 1,
        packets: 136600676,
        bytes: 206813409172,
        offloaded: 0,
      },
    });
  });

  it('reads stdin (`-` or no FILE), CRLF included; counters above 2^53 stay exact strings', () => {
    const text =
      '\r\nflow-dump from pmd on cpu core: 3\r\nin_port(1), packets:18446744073709551615, bytes:9007199254740993, used:never, offloaded:partial, dp:ovs, actions:2\r\n' +
      'in_port(2), packets:1, bytes:9007199254740991, used:1.000s, actions:1\r\n';
    for (const args of [['-', '--json'], ['--json']]) {
      const r = flows(args, text);
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout) as FlowDump;
      expect(doc.summary).toEqual({
        flows: 2,
        packets: '18446744073709551616',
        bytes: '18014398509481984',
        offloaded: 1,
      });
      expect(doc.flows[0]).toMatchObject({
        packets: '18446744073709551615',
        bytes: '9007199254740993',
      });
      expect(doc.flows[1]!.raw).toBe(
        'in_port(2), packets:1, bytes:9007199254740991, used:1.000s, actions:1',
      );
    }
  });

  it('--port filters before the summary; other lines go to errors with their line numbers', () => {
    const text = `${dumpflowsFixture('sriovop-names-ct-zone.txt')}garbage here\n`;
    const r = flows(['--json', '--port', 'eth1'], text);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as FlowDump;
    expect(doc.summary).toMatchObject({ flows: 3, packets: 2235857 + 133410141 + 133410138 });
    expect(doc.errors).toEqual([
      { line: 12, message: 'not a flow field: "garbage here"', raw: 'garbage here' },
    ]);
  });

  it('prints a table with offloaded flows marked and a summary line', () => {
    const r = flows([fixture('kubeovn-yusur-vendor-offload-counters.txt')]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ +IN_PORT +PACKETS +BYTES +USED +DP +ACTIONS$/);
    expect(lines[1]).toMatch(
      /^\* d85b161b6840_h +75021 +109521630 +3\.990s +tc +set\(…\),genev_sys_6081$/,
    );
    expect(lines[2]).toMatch(/^\* genev_sys_6081 +6946 +459664 +4\.170s +tc +d85b161b6840_h$/);
    expect(lines[3]).toBe(
      '2 flows, 2 offloaded (* yes, ~ partial), 81967 packets, 109981294 bytes',
    );
    const plain = flows([fixture('charmguide-ovn-geneve-key6.txt')]);
    expect(plain.stdout).not.toMatch(/^\*/m);
    expect(plain.stdout).toMatch(/^ +6 +5 +990 +14\.340s +- +drop$/m);
  });

  it('stops quietly, exit 0, when the reader closes the pipe early (`| head`)', async () => {
    const p = spawn('bin/ovs-offload', ['flows', '--json'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    p.stdout.once('data', () => p.stdout.destroy());
    const exited = once(p, 'exit');
    const chunk = dumpflowsFixture('kubeovn-corigine-m-offloaded.txt').repeat(200);
    let stopped = false;
    p.stdin.on('error', () => (stopped = true));
    void exited.then(() => (stopped = true));
    for (let i = 0; i < 100 && !stopped; i++) {
      if (!p.stdin.write(chunk)) {
        await new Promise((resolve) => {
          p.stdin.once('drain', resolve);
          p.stdin.once('error', resolve);
          p.once('exit', resolve);
        });
      }
    }
    if (!stopped) p.stdin.end();
    const [code] = (await exited) as [number];
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('exits 0 on empty input', () => {
    const r = flows(['--json'], '');
    expect(r).toEqual({
      code: 0,
      stdout:
        '{"flows":[],"summary":{"flows":0,"packets":0,"bytes":0,"offloaded":0},"errors":[]}\n',
      stderr: '',
    });
  });

  it.each([
    [
      'a missing file',
      ['/nonexistent/dump.txt'],
      /^ovs-offload flows: \/nonexistent\/dump\.txt: not found$/,
    ],
    ['a directory', [DUMPFLOWS_DIR], /^ovs-offload flows: read .*: EISDIR$/],
    ['two inputs', ['a', 'b'], /^ovs-offload flows: one input at most/],
    ['an unknown option', ['--bogus'], /^ovs-offload flows: Unknown option '--bogus'/],
    [
      '--port without a name',
      ['--port'],
      /^ovs-offload flows: Option '--port <value>' argument missing/,
    ],
  ])('exits 2 with a one-line reason on %s', (_name, args, message) => {
    const r = flows(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd()).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});
