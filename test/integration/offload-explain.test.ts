import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { OffloadReport } from '../../src/offload/index.js';
import { packageRoot } from '../../src/sys/index.js';
import { DUMPFLOWS_DIR, dumpflowsFixture } from '../helpers/dpctl-fixtures.js';

/**
 * `ovs-offload offload-check --explain` and the conntrack leg as users run them on a
 * captured dump: the built executable, its output and exit codes.
 */

const ROOT = packageRoot();

function check(args: string[], input = '') {
  const r = spawnSync(path.join(ROOT, 'bin/ovs-offload'), ['offload-check', ...args], {
    input,
    encoding: 'utf8',
    cwd: ROOT,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const fixture = (name: string) => path.join(DUMPFLOWS_DIR, name);

describe('offload-check --explain (captured dumps)', () => {
  it('--dump with --ports (docs/examples): the chain for one pod, exit 0 when offloaded', () => {
    const r = check([
      '--dump',
      fixture('kubeovn-corigine-m-offloaded.txt'),
      '--ports',
      'docs/examples/kubeovn-corigine.ports.json',
      '--pod',
      'default/nginx-2',
      '--explain',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').slice(0, 2)).toEqual([
      'explain: pod default/nginx-2 (captured dump)',
      '',
    ]);
    expect(r.stdout).toContain('\nport 54235e5753b8_h (pod default/nginx-2, bridge br-int)\n');
    expect(r.stdout).toContain('\n  verdict        offloaded\n');
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(
      'verdict: offloaded (1 of 1 port offloaded)',
    );
  });

  it('the vDPA capture with its zone-15 ct leg in software: ct-not-offloaded in table, --json and --explain', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'oo-ct-'));
    try {
      const dump = path.join(dir, 'dump.txt');
      writeFileSync(
        dump,
        dumpflowsFixture('sriovop-vdpa-m-ct-drop.txt')
          .split('\n')
          .map((l) =>
            l.includes('actions:ct(zone=15') ? l.replace('offloaded:yes, dp:tc', 'dp:ovs') : l,
          )
          .join('\n'),
      );
      const args = ['--dump', dump, '--port', 'ac63a8e99747603'];
      const table = check(args);
      expect(table.code).toBe(1);
      expect(table.stdout).toContain(
        'ac63a8e99747603: conntrack leg: 2 ct/recirc flows (46251 packets, 3052914 bytes): 2 in software; zone 15',
      );
      expect(table.stdout).toContain('  - ct-not-offloaded: ');
      const report = JSON.parse(check([...args, '--json']).stdout) as OffloadReport;
      const ct = report.ports[0]!.reasons.find((x) => x.code === 'ct-not-offloaded')!;
      expect(ct.evidence).toEqual(['ufid:30ae9875-d107-46a1-b8cb-cdaafd89d440', 'zone=15']);
      expect(report.ports[0]!.flows.ct).toMatchObject({ software: 2, zones: [15] });
      const explain = check([...args, '--explain']);
      expect(explain.code).toBe(1);
      expect(explain.stdout).toContain(
        '    in software  ufid:30ae9875-d107-46a1-b8cb-cdaafd89d440 (zone 15)\n',
      );
      expect(explain.stdout).toContain(
        '      evidence: ufid:30ae9875-d107-46a1-b8cb-cdaafd89d440\n',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [['--explain', '--dump', fixture('sriovop-vdpa-m-ct-drop.txt')], /--explain needs --pod/],
    [
      ['--explain', '--json', '--port', 'x', '--dump', fixture('sriovop-vdpa-m-ct-drop.txt')],
      /--explain and --json exclude each other/,
    ],
  ])('%j → exit 2, one line on stderr', (args, message) => {
    const r = check(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });
});
