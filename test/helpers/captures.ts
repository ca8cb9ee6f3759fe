import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Real command outputs kept in test/fixtures/nic (each starts with `# source:` / `# note:`
 * lines and a `# ---` line; the output follows verbatim).
 */
const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/nic');

export function capture(name: string): string {
  const text = readFileSync(path.join(DIR, name), 'utf8');
  const i = text.indexOf('\n# ---\n');
  if (i < 0) throw new Error(`${name}: no '# ---' line`);
  return text.slice(i + '\n# ---\n'.length);
}

export function captureLines(name: string): string[] {
  return capture(name)
    .split('\n')
    .filter((l) => l.trim() !== '');
}

/**
 * `devlink port show` text → the object `devlink -j port show` prints for the same ports:
 * iproute2 prints the same attribute names in both forms (`netdev pf0vf0 flavour pcivf pfnum 0`
 * ↔ `{"netdev":"pf0vf0","flavour":"pcivf","pfnum":0}`), numbers as numbers, true/false as
 * booleans. Continuation lines (`function:` blocks) are skipped.
 */
export function devlinkPortTextToJson(text: string): {
  port: Record<string, Record<string, unknown>>;
} {
  const port: Record<string, Record<string, unknown>> = {};
  for (const line of text.split('\n')) {
    const m = /^(\S+\/\d+): (.*)$/.exec(line.trimEnd());
    if (!m) continue;
    const words = m[2]!.split(/\s+/);
    const attrs: Record<string, unknown> = {};
    for (let i = 0; i + 1 < words.length; i += 2) {
      const v = words[i + 1]!;
      attrs[words[i]!] = /^\d+$/.test(v)
        ? Number(v)
        : v === 'true'
          ? true
          : v === 'false'
            ? false
            : v;
    }
    port[m[1]!] = attrs;
  }
  return { port };
}
