// Bundles the executables with esbuild (type checking is `npm run typecheck`).
// - dist/cli.js: `ovs-offload` (npm dependencies stay external, loaded from node_modules)
// - dist/ovs-offload-cni.cjs: the CNI front end, fully self-contained (no node_modules at
//   run time, small and quick to start: it runs once per pod network operation)
// - dist/nicd.js, dist/nic-standin.js: the sandbox's emulated NIC daemon and its stand-ins
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const quiet = process.argv.includes('--quiet');
mkdirSync(path.join(root, 'dist'), { recursive: true });

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
    outfile: 'dist/cli.js',
    format: 'esm',
    packages: 'external',
  }),
  build({
    ...common,
    entryPoints: ['src/cni/main.ts'],
    outfile: 'dist/ovs-offload-cni.cjs',
    format: 'cjs',
    minify: true,
    sourcemap: false,
  }),
  build({
    ...common,
    entryPoints: ['src/sandbox/nic/daemon.ts'],
    outfile: 'dist/nicd.js',
    format: 'esm',
    packages: 'external',
  }),
  build({
    ...common,
    entryPoints: ['src/sandbox/nic/standin.ts'],
    outfile: 'dist/nic-standin.js',
    format: 'esm',
    minify: true,
    sourcemap: false,
  }),
]);
