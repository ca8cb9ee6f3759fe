import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Published dump-flows outputs (each keeps its `# source:` line), see test/fixtures/dumpflows. */
export const DUMPFLOWS_DIR = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'fixtures',
  'dumpflows',
);

export function dumpflowsFixture(name: string): string {
  return readFileSync(path.join(DUMPFLOWS_DIR, name), 'utf8');
}

export function dumpflowsFixtureNames(): string[] {
  return readdirSync(DUMPFLOWS_DIR)
    .filter((f) => f.endsWith('.txt'))
    .sort();
}

/** The flow lines of a fixture: what follows the `# ---` line, blank lines dropped. */
export function dumpflowsFlowLines(name: string): string[] {
  const lines = dumpflowsFixture(name).split('\n');
  const sep = lines.indexOf('# ---');
  return lines.slice(sep + 1).filter((l) => l.trim() !== '' && !l.startsWith('flow-dump from '));
}
