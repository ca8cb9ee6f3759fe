// Builds the Node CNI front end as one self-contained executable, dist/sea/ovs-offload-cni-node:
// a Node single executable application (SEA). CNI plugins run on the host, where Node may be
// absent, so deploy/ installs this file into /opt/cni/bin beside the compiled
// dist/ovs-offload-cni, which hands it whatever it does not carry to the agent itself
// (src/cni/native). It needs nothing but the C and C++ runtime libraries a node binary links
// (glibc >= 2.28, libstdc++ from GCC >= 5.1).
//
//   node scripts/build-cni-executable.mjs [--node PATH] [--out FILE] [--no-build]
//
// --node   the node binary to embed (default: the one running this script). The blob is made by
//          that same binary because the code cache inside it is only valid for its V8.
// --out    where to write the executable (default: dist/sea/ovs-offload-cni-node)
// --no-build  take dist/ovs-offload-cni.cjs as it is instead of running scripts/build.mjs
//
// Steps (https://nodejs.org/docs/latest-v20.x/api/single-executable-applications.html):
// the bundle (already self-contained CJS, as SEA requires) → `node --experimental-sea-config`
// blob → a copy of the node binary → postject writes the blob as the NODE_SEA_BLOB note and
// flips the SEA fuse → the result must answer CNI VERSION before it replaces the output.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

function fail(msg) {
  process.stderr.write(`build-cni-executable: ${msg}\n`);
  process.exit(1);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      node: { type: 'string' },
      out: { type: 'string' },
      'no-build': { type: 'boolean' },
    },
  }));
} catch (err) {
  fail(
    `${err.message}\nusage: node scripts/build-cni-executable.mjs [--node PATH] [--out FILE] [--no-build]`,
  );
}
let nodeBin;
try {
  nodeBin = realpathSync(values.node ?? process.execPath);
} catch (err) {
  fail(`--node: ${err.message}`);
}
const out = path.resolve(values.out ?? path.join(root, 'dist', 'sea', 'ovs-offload-cni-node'));
const bundle = path.join(root, 'dist', 'ovs-offload-cni.cjs');

/** Runs a step quietly; its output is shown only when it fails. */
function run(argv, opts = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', ...opts });
  if (r.error) fail(`${argv.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) {
    fail(`${argv.join(' ')} exited ${r.status ?? r.signal}\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  }
  return r;
}

if (!values['no-build'])
  run([process.execPath, path.join(root, 'scripts', 'build.mjs'), '--quiet']);

// A node built with --shared (Debian's nodejs links libnode.so) or one that already is an SEA
// has no unflipped fuse; postject would fail deep inside LIEF, so say what is wrong first.
if (!readFileSync(nodeBin).includes(`${FUSE}:0`)) {
  fail(
    `${nodeBin} cannot host a single executable application (no "${FUSE}:0" in it): ` +
      'use an official Node.js binary (nodejs.org, the node:20 images) with --node',
  );
}
const version = run([nodeBin, '-p', 'process.versions.node']).stdout.trim();
if (Number(version.split('.')[0]) < 20) fail(`${nodeBin} is Node ${version}; 20 or newer needed`);

const tmp = mkdtempSync(path.join(os.tmpdir(), 'oo-cni-sea-'));
try {
  const blob = path.join(tmp, 'sea.blob');
  const config = path.join(tmp, 'sea-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      main: bundle,
      output: blob,
      // The runtime reads only stdout, but an "ExperimentalWarning" on stderr at every pod
      // network operation ends up in kubelet and Multus logs as noise.
      disableExperimentalSEAWarning: true,
      // V8 code cache: the bundle is compiled at build time, not at each of the many short runs.
      useCodeCache: true,
    }),
  );
  run([nodeBin, '--experimental-sea-config', config], { cwd: tmp });

  const exe = path.join(tmp, 'ovs-offload-cni');
  copyFileSync(nodeBin, exe);
  chmodSync(exe, 0o755);
  const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
  run([process.execPath, postject, exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE]);

  // A clean environment (no PATH, nothing else) and the VERSION answer: the file runs alone.
  const v = run([exe], { env: { CNI_COMMAND: 'VERSION' }, input: '', cwd: tmp });
  let answer;
  try {
    answer = JSON.parse(v.stdout);
  } catch {
    fail(`the built executable printed ${JSON.stringify(v.stdout)} for VERSION`);
  }
  if (!Array.isArray(answer.supportedVersions)) fail(`unexpected VERSION answer ${v.stdout}`);

  // Rename into place: a reader never sees a half-written file.
  mkdirSync(path.dirname(out), { recursive: true });
  const staged = `${out}.tmp-${process.pid}`;
  copyFileSync(exe, staged);
  chmodSync(staged, 0o755);
  renameSync(staged, out);
  process.stdout.write(
    `${path.relative(process.cwd(), out) || out}: Node ${version} single executable, ` +
      `CNI ${answer.supportedVersions.join(', ')}\n`,
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
