// Builds the node image without a container engine: dist/image/ovs-offload.oci.tar, an OCI
// image archive named localhost/ovs-offload:<package.json version> for `ctr images import`.
// Same content as deploy/Dockerfile (scripts/image/spec.mjs; a unit test keeps them equal).
//
//   node scripts/build-image.mjs [--update-lock] [--allow-lock-drift] [--no-build] [--out FILE]
//                                [--lock FILE]
//
// Three layers, bottom first:
//   debian  the Debian bookworm packages pinned in scripts/image/packages.lock.json, unpacked
//   node    the node binary the agent runs (/usr/local/bin/node), pinned by sha256 in the lock
//   app     package.json, proto/, bin/ovs-offload, dist/cli.js(.map), and the CNI executable
// --update-lock       re-resolve the packages against the configured apt mirror and pin the
//                     running node, then build
// --allow-lock-drift  build from the mirror's current versions when a pinned one is gone
//                     (loud warning; the image then differs from what the lock describes)
// --no-build          take dist/ as it is instead of running scripts/build-cni-executable.mjs
// --lock FILE         another lock than scripts/image/packages.lock.json
//
// Reproducible: same lock, node and dist/ → same image digest (scripts/image/oci.mjs).
import { spawnSync } from 'node:child_process';
import {
  chmod,
  copyFile,
  cp,
  mkdir,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { existsSync, lstatSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  BuildError,
  Lock,
  dpkgArch,
  fetchDebs,
  missingFromMirror,
  resolve,
  sha256File,
  unpack,
} from './image/debian.mjs';
import { writeOciArchive } from './image/oci.mjs';
import {
  APP_FILES,
  ARCHIVE,
  DEBIAN_BASE,
  DEBIAN_SUITE,
  DEBIAN_TOOLS,
  IMAGE_CONFIG,
  IMAGE_REPOSITORY,
  LOCK,
  NODE_PATH,
  TRIM,
} from './image/spec.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const t0 = Date.now();
const log = (m) =>
  process.stderr.write(`build-image [${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}\n`);

function fail(msg) {
  process.stderr.write(`build-image: ${msg}\n`);
  process.exit(1);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      'update-lock': { type: 'boolean' },
      'allow-lock-drift': { type: 'boolean' },
      'no-build': { type: 'boolean' },
      out: { type: 'string' },
      lock: { type: 'string' },
    },
  }));
} catch (err) {
  fail(
    `${err.message}\nusage: node scripts/build-image.mjs [--update-lock] [--allow-lock-drift] [--no-build] [--out FILE] [--lock FILE]`,
  );
}

const ROOTS = [...DEBIAN_TOOLS, ...DEBIAN_BASE];
const lockFile = path.resolve(root, values.lock ?? LOCK);
const lockName = path.relative(root, lockFile);

async function nodeInfo() {
  const bin = realpathSync(process.execPath);
  const { size } = await stat(bin);
  return { bin, version: process.version, sha256: await sha256File(bin), size };
}

async function readLock() {
  if (!existsSync(lockFile)) return null;
  const parsed = Lock.safeParse(JSON.parse(await readFile(lockFile, 'utf8')));
  if (!parsed.success) throw new BuildError(`${lockName} is malformed: ${parsed.error.message}`);
  return parsed.data;
}

async function writeLock(node) {
  const lock = {
    suite: DEBIAN_SUITE,
    arch: dpkgArch(),
    roots: ROOTS,
    node: { version: node.version, sha256: node.sha256, size: node.size },
    packages: resolve(ROOTS),
  };
  await writeFile(lockFile, JSON.stringify(lock, null, 2) + '\n');
  log(`wrote ${lockName}: ${lock.packages.length} packages, node ${node.version}`);
  return lock;
}

/** The lock to build from, or a one-line reason why it cannot be used. */
async function lockToUse(node) {
  if (values['update-lock']) return writeLock(node);
  const lock = await readLock();
  if (!lock)
    throw new BuildError(`${lockName} is missing: run npm run build:image -- --update-lock`);
  const sameRoots = JSON.stringify(lock.roots) === JSON.stringify(ROOTS);
  if (!sameRoots) {
    throw new BuildError(
      `${lockName} pins [${lock.roots.join(' ')}] but the image needs [${ROOTS.join(' ')}]: run npm run build:image -- --update-lock`,
    );
  }
  if (lock.arch !== dpkgArch()) {
    throw new BuildError(`${lockName} is for ${lock.arch}, this machine is ${dpkgArch()}`);
  }
  const warn = (what) => {
    const line = '!'.repeat(78);
    process.stderr.write(
      `${line}\nbuild-image: WARNING: ${what};\n` +
        `building anyway (--allow-lock-drift). This image is NOT the one ${lockName}\n` +
        `describes: commit the result of --update-lock.\n${line}\n`,
    );
  };
  if (lock.node.sha256 !== node.sha256) {
    const what = `${node.bin} is node ${node.version} (sha256 ${node.sha256.slice(0, 12)}…) but ${lockName} pins ${lock.node.version} (${lock.node.sha256.slice(0, 12)}…)`;
    if (!values['allow-lock-drift']) {
      throw new BuildError(`${what}: run the pinned node or npm run build:image -- --update-lock`);
    }
    warn(what);
  }
  const gone = missingFromMirror(lock.packages);
  if (gone.length === 0) return lock;
  const names = gone.map((p) => `${p.name}=${p.version}`).join(' ');
  if (!values['allow-lock-drift']) {
    throw new BuildError(
      `the apt mirror no longer offers ${names} (run apt-get update first?): run npm run build:image -- --update-lock`,
    );
  }
  warn(`the apt mirror no longer offers ${names}; using its current versions`);
  return { ...lock, packages: resolve(ROOTS) };
}

/** Minimal files a root filesystem needs that no package in the closure ships. */
async function finishRootfs(dir) {
  for (const t of TRIM) await rm(path.join(dir, t), { recursive: true, force: true });
  // Keep each package's copyright (the licence travels with the binary), drop the rest.
  const doc = path.join(dir, 'usr/share/doc');
  if (existsSync(doc)) {
    for (const pkg of await readdir(doc)) {
      for (const f of await readdir(path.join(doc, pkg)).catch(() => [])) {
        if (f !== 'copyright') await rm(path.join(doc, pkg, f), { recursive: true, force: true });
      }
    }
  }
  // Explicit modes: what mkdir makes depends on the builder's umask.
  for (const d of ['proc', 'sys', 'dev', 'run', 'etc', 'var', 'var/lib', 'var/log']) {
    await mkdir(path.join(dir, d), { recursive: true });
    await chmod(path.join(dir, d), 0o755);
  }
  await mkdir(path.join(dir, 'root'), { recursive: true });
  await mkdir(path.join(dir, 'tmp'), { recursive: true });
  await chmod(path.join(dir, 'tmp'), 0o1777);
  await chmod(path.join(dir, 'root'), 0o700);
  // base-files makes /var/run the symlink to /run that config paths (/var/run/openvswitch)
  // rely on; a package shipping a var/run/ entry would otherwise leave a real directory.
  const varRun = path.join(dir, 'var/run');
  if (existsSync(varRun) && !lstatSync(varRun).isSymbolicLink()) {
    await cp(varRun, path.join(dir, 'run'), { recursive: true });
    await rm(varRun, { recursive: true, force: true });
  }
  if (!existsSync(varRun)) await symlink('/run', varRun);
  const files = {
    'etc/passwd':
      'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
    'etc/group': 'root:x:0:\nnogroup:x:65534:\n',
    'etc/nsswitch.conf': 'passwd: files\ngroup: files\nhosts: files dns\n',
  };
  for (const [f, text] of Object.entries(files)) {
    await writeFile(path.join(dir, f), text);
    await chmod(path.join(dir, f), 0o644);
  }
}

async function copyInto(layer, imagePath, from) {
  const dest = path.join(layer, imagePath);
  if (imagePath.endsWith('/')) {
    await cp(from, dest, { recursive: true });
  } else {
    await mkdir(path.dirname(dest), { recursive: true });
    await copyFile(from, dest);
    const { mode } = await stat(from);
    // Executable or not is what matters; group/other write never ships.
    await chmod(dest, mode & 0o111 ? 0o755 : 0o644);
  }
}

/** Directories 0755, files 0644 or 0755, whatever umask the checkout was made with. */
async function normalizeModes(dir) {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      await chmod(p, 0o755);
      await normalizeModes(p);
    } else if (e.isFile()) {
      const { mode } = await stat(p);
      await chmod(p, mode & 0o111 ? 0o755 : 0o644);
    }
  }
}

async function main() {
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
  const name = `${IMAGE_REPOSITORY}:${pkg.version}`;
  const out = path.resolve(values.out ?? path.join(root, ARCHIVE));
  const node = await nodeInfo();
  const lock = await lockToUse(node);

  if (!values['no-build']) {
    log('building dist/ (scripts/build-cni-executable.mjs)');
    const r = spawnSync(process.execPath, [path.join(root, 'scripts/build-cni-executable.mjs')], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (r.status !== 0) throw new BuildError('scripts/build-cni-executable.mjs failed');
  }
  for (const from of Object.values(APP_FILES)) {
    if (!existsSync(path.join(root, from))) {
      throw new BuildError(`${from} is missing: build it first (drop --no-build)`);
    }
  }

  const staging = path.join(path.dirname(out), `.staging-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  try {
    const debian = path.join(staging, 'debian');
    const nodeLayer = path.join(staging, 'node');
    const app = path.join(staging, 'app');
    const debs = await fetchDebs(lock.packages, path.join(root, 'dist/image/.cache/debs'), log);
    log(`unpacking ${debs.length} Debian packages`);
    await unpack(debs, debian);
    await finishRootfs(debian);

    await copyInto(nodeLayer, NODE_PATH, node.bin);
    await chmod(path.dirname(path.join(nodeLayer, NODE_PATH)), 0o755);

    for (const [imagePath, from] of Object.entries(APP_FILES)) {
      await copyInto(app, imagePath, path.join(root, from));
    }
    await normalizeModes(app);
    await normalizeModes(nodeLayer);

    log('writing the OCI archive');
    const r = await writeOciArchive({
      out,
      name,
      layers: [debian, nodeLayer, app],
      config: {
        ...IMAGE_CONFIG,
        Labels: {
          'org.opencontainers.image.title': 'ovs-offload',
          'org.opencontainers.image.version': pkg.version,
          'org.opencontainers.image.licenses': pkg.license,
        },
      },
    });
    const unpacked = r.layers.reduce((n, l) => n + l.unpackedSize, 0);
    const summary = {
      name,
      archive: path.relative(root, out),
      digest: r.digest,
      size: r.size,
      unpackedSize: unpacked,
      layers: r.layers.map((l, i) => ({ layer: ['debian', 'node', 'app'][i], ...l })),
      seconds: Math.round((Date.now() - t0) / 100) / 10,
    };
    await writeFile(`${out}.json`, JSON.stringify(summary, null, 2) + '\n');
    const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
    log(
      `${name} ${r.digest}\n  ${summary.archive}: ${mb(r.size)} (unpacked ${mb(unpacked)}; ` +
        summary.layers.map((l) => `${l.layer} ${mb(l.size)}/${mb(l.unpackedSize)}`).join(', ') +
        ')',
    );
    process.stdout.write(`${r.digest}\n`);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

main().catch((err) => {
  if (err instanceof BuildError) fail(err.message);
  throw err;
});
