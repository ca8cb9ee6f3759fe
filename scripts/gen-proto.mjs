// Generates the TypeScript types of the kubelet's gRPC APIs (proto/*.proto) into
// src/deviceplugin/generated/, or into the folder given as the first argument (the unit test
// regenerates into a temp dir and compares, so the committed files cannot drift).
// The options mirror the loadSync options in src/deviceplugin/proto.ts: the types describe
// the objects proto-loader really hands over at run time.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const outDir = path.resolve(process.argv[2] ?? path.join(root, 'src/deviceplugin/generated'));
const require = createRequire(import.meta.url);
const bin = path.join(
  path.dirname(require.resolve('@grpc/proto-loader/package.json')),
  'build/bin/proto-loader-gen-types.js',
);
// Relative paths: each generated file names its source ("Original file: proto/…").
const protos = readdirSync(path.join(root, 'proto'))
  .filter((f) => f.endsWith('.proto'))
  .sort()
  .map((f) => `proto/${f}`);

rmSync(outDir, { recursive: true, force: true });
const r = spawnSync(
  process.execPath,
  [
    bin,
    '--keepCase',
    '--longs=Number',
    '--enums=String',
    '--defaults',
    '--arrays',
    '--grpcLib=@grpc/grpc-js',
    '--importFileExtension=.js',
    '-O',
    outDir,
    ...protos,
  ],
  { cwd: root, stdio: 'inherit' },
);
if (r.status !== 0) {
  console.error(`proto-loader-gen-types failed (${r.error?.message ?? `exit ${r.status}`})`);
  process.exit(1);
}
