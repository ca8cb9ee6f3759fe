import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { judgePorts, parsePortsFile, type OffloadReport } from '../../src/offload/index.js';
import { parseDumpText } from '../../src/ovs/dpctl/index.js';
import { packageRoot } from '../../src/sys/index.js';
import {
  DUMPFLOWS_DIR,
  dumpflowsFixture,
  dumpflowsFixtureNames,
} from '../helpers/dpctl-fixtures.js';

/** `ovs-offload offload-check --dump` as users run it: the built executable, exit codes, errors. */

const ROOT = packageRoot();

function check(args: string[], input?: string) {
  const r = spawnSync(path.join(ROOT, 'bin/ovs-offload'), ['offload-check', ...args], {
    input: input ?? '',
    encoding: 'utf8',
    cwd: ROOT,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const fixture = (name: string) => path.join(DUMPFLOWS_DIR, name);

/** Captures that print offloaded:yes on every flow (-m); the others were taken without -m. */
const PROVEN = new Set([
  'kubeovn-corigine-m-offloaded.txt',
  'kubeovn-yusur-vendor-offload-counters.txt',
  'sriovop-vdpa-m-ct-drop.txt',
  'wangjun-m-grep-offload-single.txt',
]);

describe('ovs-offload offload-check --dump', () => {
  it('every published capture: exit 0 exactly when -m proves offload; --json is the in-process report', () => {
    for (const name of dumpflowsFixtureNames()) {
      const r = check(['--dump', fixture(name), '--json']);
      expect(r.stderr, name).toBe('');
      expect(r.code, name).toBe(PROVEN.has(name) ? 0 : 1);
      const doc = JSON.parse(r.stdout) as OffloadReport;
      const dump = parseDumpText(dumpflowsFixture(name));
      expect(doc, name).toEqual(
        JSON.parse(JSON.stringify(judgePorts(dump.flows, [], { ovs: null, nic: null }))),
      );
      const human = check(['--dump', fixture(name)]);
      expect(human.code, name).toBe(r.code);
      expect(human.stdout.trimEnd().split('\n').at(-1), name).toBe(
        PROVEN.has(name)
          ? `verdict: offloaded (${doc.ports.length} of ${doc.ports.length} ports)`
          : `verdict: not offloaded (0 of ${doc.ports.length} ports offloaded)`,
      );
    }
  });

  it('reads stdin with --dump -, and a ports file in either format', () => {
    const name = 'wangjun-offloaded-numeric-ports.txt';
    const r = check(
      ['--dump', '-', '--ports', 'test/fixtures/offload/wangjun-dpif-show.txt', '--json'],
      dumpflowsFixture(name),
    );
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as OffloadReport;
    expect(doc.ports.map((p) => [p.port, p.odp, p.verdict])).toEqual([
      ['enp216s0f0', 6, 'unknown'],
      ['enp216s0f0_0', 4, 'unknown'],
    ]);
    const yusur = check([
      '--dump',
      fixture('kubeovn-yusur-vendor-offload-counters.txt'),
      '--ports',
      'test/fixtures/offload/yusur.ports.json',
      '--pod',
      'default/iperf-server',
    ]);
    expect(yusur.code).toBe(0);
    expect(yusur.stdout).toMatch(/^d85b161b6840_h +default\/iperf-server +offloaded +2 +2 /m);
  });

  it('the README example is what the command prints', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const m = /```console\n\$ bin\/ovs-offload (offload-check [^\n]+)\n([\s\S]*?)```/.exec(readme);
    expect(m, 'README offload-check example').not.toBeNull();
    const args = m![1]!.split(/\s+/).slice(1);
    const r = check(args);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(m![2]);
    // the example's ports file is a valid one
    expect(
      parsePortsFile(
        readFileSync(path.join(ROOT, 'docs/examples/kubeovn-corigine.ports.json'), 'utf8'),
      ),
    ).toHaveLength(2);
  });

  it.each([
    [['--port', 'a', '--pod', 'ns/b', '--dump', 'x'], /--port and --pod exclude each other/],
    [['--ports', 'p.json'], /--ports goes with --dump/],
    [['--dump', 'x', '--db', 'unix:/x'], /--db is for the live check, not --dump/],
    [['--dump', 'x', '--sysfs-root', '/'], /--sysfs-root is for the live check/],
    [['--pod', 'nobody', '--dump', 'x'], /--pod needs NAMESPACE\/NAME/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['extra'], /Unexpected argument 'extra'|positional/i],
    [['--dump', '/nonexistent/dump.txt'], /\/nonexistent\/dump.txt: not found/],
    [
      ['--dump', fixture('kubeovn-corigine-m-offloaded.txt'), '--port', 'nope'],
      /port nope: not in OVS, the NIC or the dump/,
    ],
  ])('%j → exit 2, one line on stderr', (args, message) => {
    const r = check(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ovs-offload offload-check: /);
    expect(r.stderr).toMatch(message);
  });

  it('a bad ports file: exit 2 naming the file and the key', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'oo-ports-'));
    const bad = path.join(dir, 'ports.json');
    writeFileSync(bad, JSON.stringify({ ports: [{ port: 'a', pod_name: 'x' }] }));
    try {
      const r = check(['--dump', fixture('kubeovn-corigine-m-offloaded.txt'), '--ports', bad]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`ovs-offload offload-check: ${bad}: ports.0: `);
      expect(r.stderr).toContain('pod_name');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
