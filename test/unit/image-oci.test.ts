import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

/**
 * scripts/image/oci.mjs, the OCI archive writer behind `npm run build:image`: the archive is a
 * valid image layout whose digests check out, and the same content gives the same digest
 * whatever the files' mtimes, creation order or the writer's umask.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const writer = path.join(root, 'scripts/image/oci.mjs');
const work = mkdtempSync(path.join(os.tmpdir(), 'image-oci-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const Result = z.object({
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  size: z.number(),
  configDigest: z.string(),
  layers: z.array(
    z.object({
      digest: z.string(),
      size: z.number(),
      diffId: z.string(),
      unpackedSize: z.number(),
    }),
  ),
});

/** Runs the writer in its own node (it is a build script, not part of src/). */
function write(opts: object, env: Record<string, string> = {}, umask = '022') {
  const code = `process.umask(0o${umask}); const { writeOciArchive } = await import(${JSON.stringify(writer)}); process.stdout.write(JSON.stringify(await writeOciArchive(JSON.parse(process.argv[1]))));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code, JSON.stringify(opts)], {
    encoding: 'utf8',
    env: { ...process.env, SOURCE_DATE_EPOCH: '', ...env },
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return Result.parse(JSON.parse(r.stdout));
}

/** The same tree, made in the given order with the given mtime. */
function makeTree(dir: string, order: 'forward' | 'reverse', mtime: number) {
  const entries: [string, string | null][] = [
    ['bin/', null],
    ['bin/tool', '#!/bin/sh\necho tool\n'],
    ['etc/', null],
    ['etc/a.conf', 'a=1\n'],
    ['etc/b.conf', 'b=2\n'],
    ['usr/share/doc/x/', null],
    ['usr/share/doc/x/copyright', 'free\n'],
  ];
  mkdirSync(dir, { recursive: true });
  for (const [p, text] of order === 'forward' ? entries : [...entries].reverse()) {
    const full = path.join(dir, p);
    if (text === null) mkdirSync(full, { recursive: true });
    else {
      mkdirSync(path.dirname(full), { recursive: true });
      writeFileSync(full, text);
    }
  }
  chmodSync(path.join(dir, 'bin/tool'), 0o755);
  chmodSync(path.join(dir, 'etc/a.conf'), 0o644);
  chmodSync(path.join(dir, 'etc/b.conf'), 0o644);
  chmodSync(path.join(dir, 'usr/share/doc/x/copyright'), 0o644);
  for (const d of ['bin', 'etc', 'usr', 'usr/share', 'usr/share/doc', 'usr/share/doc/x']) {
    chmodSync(path.join(dir, d), 0o755);
  }
  symlinkSync('tool', path.join(dir, 'bin/alias'));
  for (const p of ['bin/tool', 'etc/a.conf', 'etc/b.conf', 'usr/share/doc/x/copyright', 'bin']) {
    utimesSync(path.join(dir, p), mtime, mtime);
  }
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('writeOciArchive', () => {
  makeTree(path.join(work, 'a/base'), 'forward', 1_000_000);
  makeTree(path.join(work, 'b/base'), 'reverse', 2_000_000_000);
  for (const side of ['a', 'b']) {
    mkdirSync(path.join(work, side, 'app/opt'), { recursive: true });
    writeFileSync(path.join(work, side, 'app/opt/app.js'), 'console.log(1)\n');
    chmodSync(path.join(work, side, 'app/opt/app.js'), 0o644);
  }
  const config = { Cmd: ['/bin/tool'], Env: ['PATH=/bin'], WorkingDir: '/opt' };
  const opts = (side: string, out: string) => ({
    out: path.join(work, out),
    name: 'localhost/test-image:1.2.3',
    layers: [path.join(work, side, 'base'), path.join(work, side, 'app')],
    config,
  });

  it('gives the same digest for the same content, whatever mtimes, order and umask', () => {
    const a = write(opts('a', 'a.oci.tar'));
    const b = write(opts('b', 'b.oci.tar'), {}, '077');
    expect(b.digest).toBe(a.digest);
    expect(
      readFileSync(path.join(work, 'b.oci.tar')).equals(readFileSync(path.join(work, 'a.oci.tar'))),
    ).toBe(true);
  }, 30_000);

  it('changes the digest when SOURCE_DATE_EPOCH or a file changes', () => {
    const a = write(opts('a', 'c.oci.tar'));
    const later = write(opts('a', 'd.oci.tar'), { SOURCE_DATE_EPOCH: '1700000000' });
    expect(later.digest).not.toBe(a.digest);
    writeFileSync(path.join(work, 'b/app/opt/app.js'), 'console.log(2)\n');
    const changed = write(opts('b', 'e.oci.tar'));
    expect(changed.digest).not.toBe(a.digest);
    expect(changed.layers[0]!.digest).toBe(a.layers[0]!.digest);
  }, 30_000);

  it('writes an image layout whose index, manifest, config and layers check out', () => {
    const r = write(opts('a', 'f.oci.tar'), { SOURCE_DATE_EPOCH: '1700000000' });
    const x = path.join(work, 'f');
    mkdirSync(x);
    expect(spawnSync('tar', ['-xf', path.join(work, 'f.oci.tar'), '-C', x]).status).toBe(0);
    const blob = (digest: string) =>
      readFileSync(path.join(x, 'blobs/sha256', digest.slice('sha256:'.length)));
    expect(JSON.parse(readFileSync(path.join(x, 'oci-layout'), 'utf8'))).toEqual({
      imageLayoutVersion: '1.0.0',
    });
    const index = z
      .object({
        manifests: z.array(
          z.object({
            mediaType: z.string(),
            digest: z.string(),
            size: z.number(),
            annotations: z.record(z.string(), z.string()),
          }),
        ),
      })
      .parse(JSON.parse(readFileSync(path.join(x, 'index.json'), 'utf8')));
    const [m] = index.manifests;
    expect(index.manifests).toHaveLength(1);
    // `ctr images import` names the image from this annotation.
    expect(m!.annotations['io.containerd.image.name']).toBe('localhost/test-image:1.2.3');
    expect(m!.annotations['org.opencontainers.image.ref.name']).toBe('localhost/test-image:1.2.3');
    expect(m!.digest).toBe(r.digest);
    const manifestBytes = blob(m!.digest);
    expect(sha256(manifestBytes)).toBe(m!.digest);
    expect(manifestBytes.length).toBe(m!.size);
    const manifest = z
      .object({
        config: z.object({ digest: z.string(), size: z.number() }),
        layers: z.array(z.object({ mediaType: z.string(), digest: z.string(), size: z.number() })),
      })
      .parse(JSON.parse(manifestBytes.toString('utf8')));
    const configBytes = blob(manifest.config.digest);
    expect(sha256(configBytes)).toBe(manifest.config.digest);
    const imageConfig = z
      .object({
        created: z.string(),
        architecture: z.string(),
        os: z.literal('linux'),
        config: z.record(z.string(), z.unknown()),
        rootfs: z.object({ type: z.literal('layers'), diff_ids: z.array(z.string()) }),
      })
      .parse(JSON.parse(configBytes.toString('utf8')));
    expect(imageConfig.created).toBe('2023-11-14T22:13:20Z');
    expect(imageConfig.config).toEqual(config);
    expect(manifest.layers).toHaveLength(2);
    manifest.layers.forEach((l, i) => {
      expect(l.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
      const gz = blob(l.digest);
      expect(sha256(gz)).toBe(l.digest);
      expect(gz.length).toBe(l.size);
      // gzip -n: no file name, no timestamp (bytes 4..7 are MTIME).
      expect(gz.readUInt32LE(4)).toBe(0);
      const tar = spawnSync('gzip', ['-dc'], { input: gz, maxBuffer: 64 << 20 }).stdout;
      expect(sha256(tar)).toBe(imageConfig.rootfs.diff_ids[i]);
    });
    const listing = spawnSync('tar', ['-tvzf', '-', '--numeric-owner'], {
      input: blob(manifest.layers[0]!.digest),
      encoding: 'utf8',
    }).stdout;
    const lines = listing.trim().split('\n');
    expect(lines.map((l) => l.split(/\s+/).pop())).toEqual(
      [
        './',
        './bin/',
        './bin/alias',
        './bin/tool',
        './etc/',
        './etc/a.conf',
        './etc/b.conf',
        './usr/',
        './usr/share/',
        './usr/share/doc/',
        './usr/share/doc/x/',
        './usr/share/doc/x/copyright',
      ].map((p) => (p === './bin/alias' ? 'tool' : p)),
    );
    for (const l of lines) expect(l, l).toMatch(/^\S+ 0\/0 .* 2023-11-14 /);
    expect(lines[0]).toMatch(/^drwxr-xr-x /);
  }, 30_000);

  it('refuses a layer that is not a directory and a name that is not a reference', () => {
    expect(() => write({ ...opts('a', 'g.oci.tar'), layers: [path.join(work, 'nope')] })).toThrow(
      /is not a directory/,
    );
    expect(() => write({ ...opts('a', 'h.oci.tar'), name: 'Bad Name' })).toThrow(
      /is not a reference/,
    );
  }, 30_000);
});
