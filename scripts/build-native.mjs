// Compiles the CNI front end (src/cni/native/*.c) into one static executable: /opt/cni/bin
// runs on the host, which owes us no particular libc. -Werror: the compiler Debian bookworm
// ships is the one these files are held to. scripts/build.mjs calls it for dist/; the tests
// run it as `node scripts/build-native.mjs OUT` for their own copy.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** Builds `out`; returns null, or why it could not. */
export function buildNative(out) {
  const cc = process.env.CC ?? 'cc';
  const sources = readdirSync(path.join(root, 'src/cni/native'))
    .filter((f) => f.endsWith('.c'))
    .sort()
    .map((f) => `src/cni/native/${f}`);
  const flags = ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-Wshadow', '-Wconversion', '-Werror'];
  const r = spawnSync(cc, [...flags, '-static', '-s', '-o', out, ...sources], {
    cwd: root,
    encoding: 'utf8',
  });
  if (!r.error && r.status === 0) return null;
  return (
    `${cc} could not build src/cni/native/` +
    `${r.error ? `: ${r.error.message} (scripts/setup.sh installs gcc and libc6-dev)` : ''}\n` +
    `${r.stderr ?? ''}`
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('usage: node scripts/build-native.mjs OUT\n');
    process.exit(2);
  }
  const why = buildNative(path.resolve(out));
  if (why) {
    process.stderr.write(`build-native: ${why}`);
    process.exit(1);
  }
}
