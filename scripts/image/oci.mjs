// Writes an OCI image archive (an image layout in a tar file) that `ctr images import` and
// `skopeo copy oci-archive:` accept, without a container engine.
//
// Reproducible by construction: every layer is tarred with sorted names, one fixed mtime
// (SOURCE_DATE_EPOCH, else 0), uid/gid 0 with numeric owners and no atime/ctime, then
// compressed with `gzip -n` (no name, no timestamp in the gzip header); the config's
// `created` is the same fixed time; the outer archive is tarred the same way. Same inputs,
// same GNU tar and gzip → same bytes → same digest.
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
};

/** The fixed time every file and the config carry, in seconds since the epoch. */
export function sourceDateEpoch() {
  const raw = process.env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return 0;
  if (!/^\d+$/.test(raw)) throw new Error(`SOURCE_DATE_EPOCH must be whole seconds, got ${raw}`);
  return Number(raw);
}

/**
 * GNU tar arguments for a deterministic archive of `dir`'s content (paths relative to it).
 * PAX format keeps long names and large files; atime/ctime are dropped from the extended
 * headers, and the extended header names do not carry the writer's PID (%p).
 */
export function tarArgs(dir, epoch) {
  return [
    '--create',
    '--file=-',
    `--directory=${dir}`,
    '--sort=name',
    `--mtime=@${epoch}`,
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--format=posix',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    '--no-acls',
    '--no-xattrs',
    '--no-selinux',
    '.',
  ];
}

function sha256Tap(hash, counter) {
  return async function* tap(source) {
    for await (const chunk of source) {
      hash.update(chunk);
      counter.bytes += chunk.length;
      yield chunk;
    }
  };
}

function waitExit(child, what) {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${what} failed (${signal ?? code}): ${stderr.trim()}`));
    });
  });
}

/**
 * Tars `dir` through `gzip -n` into `blobsDir`, named by its digest. Returns the layer's
 * descriptor and its diff_id (sha256 of the uncompressed tar, what the config lists).
 */
async function writeLayer(dir, blobsDir, epoch) {
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw new Error(`layer ${dir} is not a directory`);
  // The layer's "./" entry becomes the container's / : a 0700 staging directory (mkdtemp)
  // would lock non-root processes out of the whole filesystem.
  await chmod(dir, 0o755);
  const tmp = path.join(blobsDir, `.layer-${process.pid}-${Math.random().toString(16).slice(2)}`);
  const tar = spawn('tar', tarArgs(dir, epoch), { stdio: ['ignore', 'pipe', 'pipe'] });
  const gzip = spawn('gzip', ['-n', '-6', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  const raw = { bytes: 0 };
  const packed = { bytes: 0 };
  await Promise.all([
    waitExit(tar, `tar of ${dir}`),
    waitExit(gzip, 'gzip'),
    pipeline(tar.stdout, sha256Tap(diff, raw), gzip.stdin),
    pipeline(gzip.stdout, sha256Tap(blob, packed), createWriteStream(tmp)),
  ]);
  const digest = `sha256:${blob.digest('hex')}`;
  await rename(tmp, path.join(blobsDir, digest.slice('sha256:'.length)));
  return {
    descriptor: { mediaType: MEDIA.layerGzip, digest, size: packed.bytes },
    diffId: `sha256:${diff.digest('hex')}`,
    unpackedSize: raw.bytes,
  };
}

/** Canonical JSON bytes (keys in insertion order, no whitespace) and their descriptor. */
async function writeJsonBlob(blobsDir, mediaType, value) {
  const bytes = Buffer.from(JSON.stringify(value));
  const hex = createHash('sha256').update(bytes).digest('hex');
  await writeFile(path.join(blobsDir, hex), bytes);
  return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
}

function ociArch() {
  const map = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };
  const arch = map[process.arch];
  if (!arch) throw new Error(`no OCI architecture for ${process.arch}`);
  return arch;
}

function pickConfig(config) {
  const out = {};
  for (const key of ['User', 'Env', 'Entrypoint', 'Cmd', 'WorkingDir', 'Labels', 'StopSignal']) {
    if (config?.[key] !== undefined) out[key] = config[key];
  }
  return out;
}

/**
 * @param {{ out: string, name: string, layers: string[], config?: object, architecture?: string }} opts
 *   out: the .oci.tar to write; name: the image reference (e.g. localhost/ovs-offload:0.1.0);
 *   layers: directories, bottom first, each becoming one gzip layer; config: OCI image config
 *   fields { Entrypoint, Cmd, Env, WorkingDir, Labels, User, StopSignal }.
 * @returns {Promise<{ digest: string, size: number, configDigest: string,
 *   layers: { digest: string, size: number, diffId: string, unpackedSize: number }[] }>}
 *   digest: the manifest digest (what `ctr images ls` shows); size: the archive's bytes.
 */
export async function writeOciArchive({ out, name, layers, config, architecture }) {
  if (typeof out !== 'string' || !out.endsWith('.tar')) throw new Error('out must be a .tar path');
  if (typeof name !== 'string' || !/^[a-z0-9]/.test(name) || /\s/.test(name)) {
    throw new Error(`image name ${JSON.stringify(name)} is not a reference`);
  }
  if (!Array.isArray(layers) || layers.length === 0)
    throw new Error('layers must list directories');
  const epoch = sourceDateEpoch();
  const created = new Date(epoch * 1000).toISOString().replace('.000Z', 'Z');
  const work = await mkdtemp(path.join(os.tmpdir(), 'oci-layout-'));
  try {
    await chmod(work, 0o755);
    const blobsDir = path.join(work, 'blobs', 'sha256');
    await mkdir(blobsDir, { recursive: true });
    // Layers compress in parallel (gzip is single-threaded); their order is the array's.
    const written = await Promise.all(
      layers.map((dir) => writeLayer(path.resolve(dir), blobsDir, epoch)),
    );
    const configBlob = await writeJsonBlob(blobsDir, MEDIA.config, {
      created,
      architecture: architecture ?? ociArch(),
      os: 'linux',
      config: pickConfig(config),
      rootfs: { type: 'layers', diff_ids: written.map((l) => l.diffId) },
      history: written.map(() => ({ created, created_by: 'scripts/image/oci.mjs' })),
    });
    const manifest = await writeJsonBlob(blobsDir, MEDIA.manifest, {
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: configBlob,
      layers: written.map((l) => l.descriptor),
    });
    // `ctr images import` names the image from io.containerd.image.name; other OCI tools
    // read org.opencontainers.image.ref.name (containerd too, with --base-name).
    await writeFile(
      path.join(work, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.index,
        manifests: [
          {
            ...manifest,
            annotations: {
              'io.containerd.image.name': name,
              'org.opencontainers.image.ref.name': name,
            },
          },
        ],
      }),
    );
    await writeFile(path.join(work, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    // The layout's own modes, whatever the umask: the archive's bytes must not depend on it.
    for (const d of [work, path.join(work, 'blobs'), blobsDir]) await chmod(d, 0o755);
    for (const f of await readdir(blobsDir)) await chmod(path.join(blobsDir, f), 0o644);
    for (const f of ['index.json', 'oci-layout']) await chmod(path.join(work, f), 0o644);
    await mkdir(path.dirname(path.resolve(out)), { recursive: true });
    const tmpOut = `${path.resolve(out)}.${process.pid}.tmp`;
    const tar = spawn('tar', tarArgs(work, epoch), { stdio: ['ignore', 'pipe', 'pipe'] });
    const counter = { bytes: 0 };
    await Promise.all([
      waitExit(tar, 'tar of the image layout'),
      pipeline(tar.stdout, sha256Tap(createHash('sha256'), counter), createWriteStream(tmpOut)),
    ]);
    await rename(tmpOut, path.resolve(out));
    return {
      digest: manifest.digest,
      size: counter.bytes,
      configDigest: configBlob.digest,
      layers: written.map((l) => ({
        digest: l.descriptor.digest,
        size: l.descriptor.size,
        diffId: l.diffId,
        unpackedSize: l.unpackedSize,
      })),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
