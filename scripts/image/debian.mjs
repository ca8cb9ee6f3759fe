// The image's Debian part: the dependency closure of the packages it needs, resolved by apt
// against an empty package database (so nothing installed on the build machine leaks in),
// pinned in the lock with each .deb's sha256, fetched with `apt-get download` and unpacked
// with `dpkg-deb -x`. Maintainer scripts never run: the image needs files, not a configured
// system, and running them would make the result depend on the build machine.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

const Deb = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/),
  version: z.string().regex(/^[A-Za-z0-9.+~:-]+$/),
  arch: z.string().regex(/^[a-z0-9]+$/),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().positive(),
});

export const Lock = z.object({
  suite: z.string(),
  arch: z.string(),
  roots: z.array(z.string()).min(1),
  node: z.object({
    version: z.string().regex(/^v\d+\.\d+\.\d+$/),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    size: z.number().int().positive(),
  }),
  packages: z.array(Deb).min(1),
});

/** A failure the user fixes with a flag or a package: one line, no stack. */
export class BuildError extends Error {}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new BuildError(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    const why = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
    throw new BuildError(`${cmd} ${args.slice(0, 3).join(' ')} … failed: ${why}`);
  }
  return r.stdout;
}

export function dpkgArch() {
  return run('dpkg', ['--print-architecture']).trim();
}

/** Paragraphs of `apt-cache show name=version …`, first match per name=version. */
function aptShow(specs) {
  const out = run('apt-cache', ['show', '--no-all-versions', ...specs]);
  const seen = new Map();
  for (const para of out.split(/\n\n+/)) {
    const f = Object.fromEntries(
      para
        .split('\n')
        .map((l) => /^([A-Za-z0-9-]+):\s*(.*)$/.exec(l))
        .filter(Boolean)
        .map((m) => [m[1], m[2]]),
    );
    if (!f.Package) continue;
    const key = `${f.Package}=${f.Version}`;
    if (!seen.has(key)) seen.set(key, f);
  }
  return seen;
}

/**
 * The closure of `roots` (Depends and Pre-Depends, no Recommends), as apt would install it on
 * an empty system, with the versions the configured mirror offers now.
 */
export function resolve(roots) {
  const sim = run(
    'apt-get',
    [
      '--simulate',
      '-o',
      'Dir::State::status=/dev/null',
      '-o',
      'Debug::NoLocking=1',
      'install',
      '--no-install-recommends',
      ...roots,
    ],
    { env: { ...process.env, LC_ALL: 'C' } },
  );
  const picked = [];
  for (const line of sim.split('\n')) {
    const m = /^Inst (\S+) \((\S+) .*\[([a-z0-9]+)\]\)/.exec(line);
    if (m) picked.push({ name: m[1].replace(/:[a-z0-9]+$/, ''), version: m[2], arch: m[3] });
  }
  if (picked.length === 0) throw new BuildError(`apt resolved nothing for ${roots.join(' ')}`);
  const show = aptShow(picked.map((p) => `${p.name}=${p.version}`));
  return picked
    .map((p) => {
      const f = show.get(`${p.name}=${p.version}`);
      if (!f?.SHA256) throw new BuildError(`apt-cache has no SHA256 for ${p.name}=${p.version}`);
      return { ...p, sha256: f.SHA256, size: Number(f.Size) };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Which locked packages the configured mirror no longer offers at their pinned version. */
export function missingFromMirror(packages) {
  const r = spawnSync(
    'apt-cache',
    ['show', '--no-all-versions', ...packages.map((p) => `${p.name}=${p.version}`)],
    { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, LC_ALL: 'C' } },
  );
  const have = new Set();
  for (const para of (r.stdout ?? '').split(/\n\n+/)) {
    const name = /^Package: (.*)$/m.exec(para)?.[1];
    const version = /^Version: (.*)$/m.exec(para)?.[1];
    const sha = /^SHA256: (.*)$/m.exec(para)?.[1];
    if (name && version && sha) have.add(`${name}=${version}=${sha}`);
  }
  return packages.filter((p) => !have.has(`${p.name}=${p.version}=${p.sha256}`));
}

export function sha256File(file) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

const cacheName = (p) => `${p.name}_${p.sha256}.deb`;

/**
 * Every locked .deb in `cacheDir`, each checked against its locked sha256. Missing ones come
 * from `apt-get download` (which also checks them against the signed Release files).
 */
export async function fetchDebs(packages, cacheDir, log) {
  await mkdir(cacheDir, { recursive: true });
  const cached = new Set(await readdir(cacheDir));
  const missing = packages.filter((p) => !cached.has(cacheName(p)));
  if (missing.length) {
    log(`downloading ${missing.length} of ${packages.length} Debian packages`);
    const tmp = await mkdtemp(path.join(cacheDir, '.download-'));
    try {
      run(
        'apt-get',
        [
          'download',
          '-q',
          '-o',
          'APT::Sandbox::User=root',
          ...missing.map((p) => `${p.name}:${p.arch}=${p.version}`),
        ],
        { cwd: tmp, env: { ...process.env, LC_ALL: 'C' } },
      );
      const bySha = new Map(missing.map((p) => [p.sha256, p]));
      for (const f of await readdir(tmp)) {
        const sha = await sha256File(path.join(tmp, f));
        const p = bySha.get(sha);
        if (!p) throw new BuildError(`downloaded ${f} matches no sha256 in the lock`);
        await rename(path.join(tmp, f), path.join(cacheDir, cacheName(p)));
        bySha.delete(sha);
      }
      if (bySha.size) {
        const names = [...bySha.values()].map((p) => `${p.name}=${p.version}`).join(' ');
        throw new BuildError(`apt-get download did not deliver the locked ${names}`);
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  const files = [];
  for (const p of packages) {
    const file = path.join(cacheDir, cacheName(p));
    const sha = await sha256File(file);
    if (sha !== p.sha256) throw new BuildError(`${file}: sha256 ${sha}, the lock says ${p.sha256}`);
    files.push(file);
  }
  return files;
}

/** Unpacks each .deb's data (not its control scripts) into `dest`, in lock order. */
export async function unpack(files, dest) {
  await mkdir(dest, { recursive: true });
  for (const f of files) run('dpkg-deb', ['-x', f, dest]);
  const st = await stat(dest);
  if (!st.isDirectory()) throw new BuildError(`${dest} is not a directory`);
}
