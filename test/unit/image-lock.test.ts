import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

/**
 * scripts/image/packages.lock.json pins what `npm run build:image` puts in the image. A lock the
 * build cannot honour stops it before anything is built or downloaded, in one line that names
 * the way out (--update-lock).
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(path.join(os.tmpdir(), 'image-lock-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const Pkg = z.object({
  name: z.string(),
  version: z.string(),
  arch: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number(),
});
const Lock = z.object({
  suite: z.literal('bookworm'),
  arch: z.string(),
  roots: z.array(z.string()),
  node: z.object({ version: z.string(), sha256: z.string(), size: z.number() }),
  packages: z.array(Pkg),
});
const lock = Lock.parse(
  JSON.parse(readFileSync(path.join(root, 'scripts/image/packages.lock.json'), 'utf8')),
);

/** The running node as the build would pin it, so only the property under test is off. */
const node = (() => {
  const bin = realpathSync(process.execPath);
  const bytes = readFileSync(bin);
  return {
    version: process.version,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.length,
  };
})();

function build(edit: (l: z.infer<typeof Lock>) => unknown) {
  const file = path.join(work, `lock-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(edit(structuredClone(lock))));
  const r = spawnSync(
    process.execPath,
    [
      path.join(root, 'scripts/build-image.mjs'),
      '--no-build',
      '--lock',
      file,
      '--out',
      path.join(work, 'never.oci.tar'),
    ],
    { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } },
  );
  return { status: r.status, lines: r.stderr.trim().split('\n'), stderr: r.stderr };
}

describe('scripts/image/packages.lock.json', () => {
  it('pins a closure: every package once, with its sha256, sorted by name', () => {
    const names = lock.packages.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(names);
    for (const r of lock.roots) expect(names, r).toContain(r);
    // The runtime libraries node links (ldd /usr/bin/node) are in it.
    for (const lib of ['libc6', 'libstdc++6', 'libgcc-s1']) expect(names, lib).toContain(lib);
    expect(lock.node.version).toMatch(/^v20\./);
  });
});

describe('build-image with a lock it cannot honour', () => {
  it('stops when a pinned version is no longer on the mirror, naming --update-lock', () => {
    const r = build((l) => ({
      ...l,
      node,
      packages: l.packages.map((p) =>
        p.name === 'ethtool' ? { ...p, version: '1:0.0-not-in-debian' } : p,
      ),
    }));
    expect(r.status).toBe(1);
    expect(r.lines, r.stderr).toHaveLength(1);
    expect(r.lines[0]).toMatch(
      /^build-image: the apt mirror no longer offers .*ethtool=1:0\.0-not-in-debian.*: run npm run build:image -- --update-lock$/,
    );
  }, 60_000);

  it('stops when the running node is not the pinned one', () => {
    const r = build((l) => ({ ...l, node: { ...node, sha256: '0'.repeat(64) } }));
    expect(r.status).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^build-image: .* but .* pins v\d+\.\d+\.\d+ .*--update-lock$/);
  }, 60_000);

  it('stops when the lock was made for other packages', () => {
    const r = build((l) => ({ ...l, node, roots: l.roots.slice(1) }));
    expect(r.status).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/pins \[.*\] but the image needs \[.*\]: run .*--update-lock$/);
  }, 60_000);

  it('stops on a malformed lock', () => {
    const r = build((l) => ({ ...l, packages: [{ name: 'x' }] }));
    expect(r.status).toBe(1);
    expect(r.lines[0]).toMatch(/^build-image: .* is malformed/);
  }, 60_000);
});
