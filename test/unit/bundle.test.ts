import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

/**
 * What ships is what runs: dist/cli.js (the agent and tools the node image carries) holds no
 * NIC emulator and no test code and needs no node_modules; the demo and the emulator are
 * dist/sandbox.js; nothing reads test/ at run time.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = (f: string) => path.join(root, 'dist', f);

/** Names only the emulator and the demo define (src/sandbox, src/cli/demo). */
const EMULATOR_SYMBOLS = [
  'emulateNic',
  'buildDemoNode',
  'teardownDemoNode',
  'removeLeftovers',
  'nic-standin.js',
  'nicd.js',
  'startOvn',
];
/** Test doubles: test/helpers only. */
const TEST_SYMBOLS = ['RecordingRunner', 'FakeKubelet', 'no responder for'];

const SourceMap = z.object({ sources: z.array(z.string()) });
const sourcesOf = (map: string) =>
  SourceMap.parse(JSON.parse(readFileSync(dist(map), 'utf8'))).sources.map((s) =>
    path.relative(root, path.resolve(path.dirname(dist(map)), s)),
  );

let cli = '';
let sandbox = '';

beforeAll(() => {
  // The bundles as scripts/build.mjs makes them now (it replaces dist/ files atomically).
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--quiet'], {
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  cli = readFileSync(dist('cli.js'), 'utf8');
  sandbox = readFileSync(dist('sandbox.js'), 'utf8');
}, 120_000);

describe('dist/cli.js, the agent bundle the image carries', () => {
  it('contains no emulator and no test code', () => {
    for (const s of [...EMULATOR_SYMBOLS, ...TEST_SYMBOLS]) expect(cli.includes(s), s).toBe(false);
    const sources = sourcesOf('cli.js.map');
    expect(
      sources.filter((s) => s.startsWith('src/sandbox/') || s.startsWith('src/cli/demo/')),
    ).toEqual([]);
    expect(sources.filter((s) => s.startsWith('test/'))).toEqual([]);
    expect(sources).toContain('src/agent/attach/add.ts');
  });

  it('the emulator symbols looked for are real: dist/sandbox.js has them', () => {
    for (const s of EMULATOR_SYMBOLS) expect(sandbox.includes(s), s).toBe(true);
    expect(sourcesOf('sandbox.js.map').some((s) => s.startsWith('src/sandbox/nic/'))).toBe(true);
  });

  it('imports nothing but node built-ins (npm dependencies are bundled in)', () => {
    const specifiers = [
      ...cli.matchAll(/^\s*import\s+(?:[^'"]*?\s+from\s+)?["']([^"']+)["'];?$/gm),
    ].map((m) => m[1]!);
    expect(specifiers.length).toBeGreaterThan(0);
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    expect(specifiers.filter((s) => !builtins.has(s))).toEqual([]);
  });

  describe('installed without node_modules, sandbox.js or test/ (as in the image)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bundle-test-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const run = (args: string[]) =>
      spawnSync(process.execPath, [path.join(dir, 'dist/cli.js'), ...args], {
        encoding: 'utf8',
        cwd: dir,
      });
    beforeAll(() => {
      mkdirSync(path.join(dir, 'dist'));
      copyFileSync(dist('cli.js'), path.join(dir, 'dist/cli.js'));
      copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
    });

    it('runs', () => {
      const r = run(['version']);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^ovs-offload \d+\.\d+\.\d+/);
    }, 30_000);

    it('says in one line why the demo is not there', () => {
      const r = run(['demo']);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(
        /^ovs-offload demo: the demo is not part of this installation .*sandbox\.js is absent/,
      );
    }, 30_000);
  });
});

describe('run-time files', () => {
  it('the capture the demo prints lives in docs/examples and matches the test fixture', () => {
    const shipped = readFileSync(path.join(root, 'docs/examples/kubeovn-corigine.dump.txt'));
    const fixture = readFileSync(
      path.join(root, 'test/fixtures/dumpflows/kubeovn-corigine-m-offloaded.txt'),
    );
    expect(shipped.equals(fixture)).toBe(true);
  });

  it('no bundle reads test/ at run time', () => {
    for (const [name, text] of [
      ['cli.js', cli],
      ['sandbox.js', sandbox],
    ] as const) {
      // (protobufjs' usage text names a test/fixtures/ of its own: look for ours.)
      for (const dir of ['test/fixtures/dumpflows', 'test/helpers/']) {
        expect(text.includes(dir), `${name}: ${dir}`).toBe(false);
      }
    }
  });
});
