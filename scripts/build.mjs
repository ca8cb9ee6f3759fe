// Bundles the executables with esbuild (type checking is `npm run typecheck`).
// - dist/cli.js: `ovs-offload` (npm dependencies stay external, loaded from node_modules)
// - dist/ovs-offload-cni.cjs: the CNI front end, fully self-contained (no node_modules at
//   run time, small and quick to start: it runs once per pod network operation)
// - dist/nicd.js, dist/nic-standin.js: the sandbox's emulated NIC daemon and its stand-ins
import { build } from 'esbuild';
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

await Promise.all([
  build({
    ...common,
    entryPoints: ['src/cli/main.ts'],
    outfile: tmp + '/cli.js',
    format: 'esm',
    packages: 'external',
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

for (const f of readdirSync(tmp)) renameSync(path.join(tmp, f), path.join(dist, f));
rmSync(tmp, { recursive: true, force: true });
