// Bundles the executables with esbuild (type checking is `npm run typecheck`).
// - dist/cli.js: `ovs-offload`, npm dependencies included: the node image ships it without
//   node_modules (proto/ is still read at run time, from the package root). It holds no NIC
//   emulator and no test code (test/unit/bundle.test.ts looks).
// - dist/sandbox.js: `ovs-offload demo` with the NIC emulator, loaded by dist/cli.js only when
//   asked for and present (a source checkout; the image leaves it out)
// - dist/ovs-offload-cni: the CNI plugin executable, compiled from src/cni/native (C, static):
//   it carries ADD/DEL/CHECK to the agent and hands everything else to the Node front end
// - dist/ovs-offload-cni.cjs: that Node front end, fully self-contained (no node_modules at
//   run time), and dist/ovs-offload-cni-node, which runs it with the node on PATH (the image
//   puts a single executable there instead: scripts/build-cni-executable.mjs)
// - dist/nicd.js, dist/nic-standin.js: the sandbox's emulated NIC daemon and its stand-ins
import { build } from 'esbuild';
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNative } from './build-native.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const quiet = process.argv.includes('--quiet');
// Build into a private folder, then rename each file into dist/: a process starting
// dist/cli.js while another build runs never loads half a file.
const dist = path.join(root, 'dist');
const tmp = path.join(dist, `.build-${process.pid}`);
mkdirSync(tmp, { recursive: true });

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: quiet ? 'warning' : 'info',
  legalComments: 'none',
};

// Bundled CommonJS dependencies call require() for node built-ins; an ES module has none.
const esmRequire = {
  js: "import { createRequire as __ovsOffloadCreateRequire } from 'node:module';\nconst require = __ovsOffloadCreateRequire(import.meta.url);",
};

await Promise.all([
  build({
    ...common,
    entryPoints: ['src/cli/main.ts'],
    outfile: tmp + '/cli.js',
    format: 'esm',
    banner: esmRequire,
    // File and line of every frame, without shipping the dependencies' sources twice.
    sourcesContent: false,
  }),
  build({
    ...common,
    entryPoints: ['src/cli/demo/run.ts'],
    outfile: tmp + '/sandbox.js',
    format: 'esm',
    banner: esmRequire,
    sourcesContent: false,
  }),
  build({
    ...common,
    entryPoints: ['src/cni/main.ts'],
    outfile: tmp + '/ovs-offload-cni.cjs',
    format: 'cjs',
    minify: true,
    sourcemap: false,
  }),
  build({
    ...common,
    entryPoints: ['src/sandbox/nic/daemon.ts'],
    outfile: tmp + '/nicd.js',
    format: 'esm',
    packages: 'external',
  }),
  build({
    ...common,
    entryPoints: ['src/sandbox/nic/standin.ts'],
    outfile: tmp + '/nic-standin.js',
    format: 'esm',
    minify: true,
    sourcemap: false,
  }),
]);

// The compiled front end (scripts/build-native.mjs).
const nativeFailed = buildNative(tmp + '/ovs-offload-cni');
if (nativeFailed) {
  rmSync(tmp, { recursive: true, force: true });
  process.stderr.write(`build: ${nativeFailed}`);
  process.exit(1);
}
writeFileSync(
  tmp + '/ovs-offload-cni-node',
  '#!/bin/sh\n# The Node CNI front end next to dist/ovs-offload-cni, run by the node on PATH.\n' +
    'exec node "$(dirname "$(readlink -f "$0")")/ovs-offload-cni.cjs" "$@"\n',
);
chmodSync(tmp + '/ovs-offload-cni-node', 0o755);

// esbuild wrote each map's sources relative to the private folder: make them relative to
// dist/, where the map ends up, or stack traces would name files that do not exist.
for (const f of readdirSync(tmp).filter((n) => n.endsWith('.map'))) {
  const file = path.join(tmp, f);
  const map = JSON.parse(readFileSync(file, 'utf8'));
  map.sources = map.sources.map((s) => path.relative(dist, path.resolve(tmp, s)));
  writeFileSync(file, JSON.stringify(map));
}
for (const f of readdirSync(tmp)) renameSync(path.join(tmp, f), path.join(dist, f));
rmSync(tmp, { recursive: true, force: true });
