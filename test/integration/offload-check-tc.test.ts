import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { OffloadReport } from '../../src/offload/index.js';
import { packageRoot } from '../../src/sys/index.js';

/**
 * TC's own view offline: `offload-check --dump FILE --tc-dir DIR`, DIR/<port>.json being
 * `tc -s -j filter show dev <port> ingress`. The empty-ingress case is captured here from the
 * real `tc` (the sandbox kernel has no cls_flower, so an empty ingress is all it can show).
 */

const ROOT = packageRoot();
const TC = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/tc');
const tmp = mkdtempSync(path.join(tmpdir(), 'offload-tc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function check(args: string[]) {
  const r = spawnSync(path.join(ROOT, 'bin/ovs-offload'), ['offload-check', ...args], {
    encoding: 'utf8',
    cwd: ROOT,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dumpArgs = (dir: string) => [
  '--dump',
  path.join(TC, 'pf0vf0-dump.txt'),
  '--ports',
  path.join(TC, 'pf0vf0.ports.json'),
  '--tc-dir',
  dir,
];

describe('ovs-offload offload-check --dump --tc-dir', () => {
  it('dp:tc flows offloaded:yes but the real tc shows an empty ingress → tc-filter-missing', () => {
    const real = spawnSync('tc', ['-s', '-j', 'filter', 'show', 'dev', 'lo', 'ingress'], {
      encoding: 'utf8',
    });
    expect(real.status, real.stderr).toBe(0);
    const dir = path.join(tmp, 'empty');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'pf0vf0.json'), real.stdout);
    const r = check([...dumpArgs(dir), '--json']);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout) as OffloadReport;
    const p0 = doc.ports.find((p) => p.port === 'pf0vf0');
    expect(p0?.tc).toEqual({ filters: 0, inHw: 0, notInHw: 0, skipHw: 0, tcFlows: 4, missing: 3 });
    const missing = p0?.reasons.find((r) => r.code === 'tc-filter-missing');
    expect(missing?.message).toMatch(/^3 flows OVS reports as offloaded \(dp:tc\) on pf0vf0/);
    expect(missing?.evidence).toHaveLength(3);
    expect(doc.notes).toContain(
      `--tc-dir ${dir} has no <port>.json for pf0vf1: TC not compared there`,
    );
    const human = check(dumpArgs(dir));
    expect(human.stdout).toContain('  - tc-filter-missing: 3 flows OVS reports as offloaded');
  });

  it('the derived capture: missing filter, not_in_hw, in_hw with no hardware packets', () => {
    const dir = path.join(tmp, 'derived');
    mkdirSync(dir, { recursive: true });
    copyFileSync(path.join(TC, 'ovs-pf0vf0-derived.json'), path.join(dir, 'pf0vf0.json'));
    copyFileSync(path.join(TC, 'empty-ingress.real.json'), path.join(dir, 'pf0vf1.json'));
    const r = check([...dumpArgs(dir), '--json', '--port', 'pf0vf0']);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout) as OffloadReport;
    const codes = doc.ports[0]?.reasons.map((x) => x.code).filter((c) => c.startsWith('tc-'));
    expect(codes).toEqual([
      'tc-software',
      'tc-filter-missing',
      'tc-not-in-hw',
      'tc-hw-counters-zero',
    ]);
  });

  it('a tc file that is not tc -j output is a note, not a crash; --tc-dir needs --dump', () => {
    const dir = path.join(tmp, 'bad');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'pf0vf0.json'), 'Cannot find device "pf0vf0"\n');
    const r = check([...dumpArgs(dir), '--json', '--port', 'pf0vf0']);
    const doc = JSON.parse(r.stdout) as OffloadReport;
    expect(doc.notes.some((n) => n.startsWith('tc filter show dev pf0vf0 ingress failed'))).toBe(
      true,
    );
    const usage = check(['--tc-dir', dir]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--tc-dir goes with --dump');
  });
});
