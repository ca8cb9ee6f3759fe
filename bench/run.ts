import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable } from './lib/stats.js';
import type { Bench, SummaryRow } from './lib/types.js';

/**
 * `npm run bench -- <name> [--smoke]` runs one benchmark: a human table, then its JSON
 * contract line last. `npm run bench` (or `--all`) runs each in its own process and writes
 * bench/results/summary.{json,md}; a missed goal is reported, only an error fails.
 */
const BENCHES: Record<string, () => Promise<{ bench: Bench }>> = {
  cni: () => import('./cni/index.js'),
  offload: () => import('./offload/index.js'),
  deviceplugin: () => import('./deviceplugin/index.js'),
  'ovsdb-attach': () => import('./ovsdb-attach/index.js'),
  'flows-parse': () => import('./flows-parse/index.js'),
  scale: () => import('./scale/index.js'),
};

const here = path.dirname(fileURLToPath(import.meta.url));
const resultsDir = path.join(here, 'results');

async function runOne(name: string, smoke: boolean, args: string[]): Promise<void> {
  const load = BENCHES[name];
  if (!load)
    throw new Error(
      `unknown bench ${JSON.stringify(name)} (have: ${Object.keys(BENCHES).join(', ')})`,
    );
  const { bench } = await load();
  const out = await bench.run({ smoke, args, log: (l) => process.stderr.write(`${l}\n`) });
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(path.join(resultsDir, `${name}.rows.json`), JSON.stringify(out.rows, null, 2));
  process.stdout.write(
    `${bench.name}: ${bench.describe}${smoke ? ' (smoke)' : ''}\n${formatTable(out.table)}\n`,
  );
  process.stdout.write(`${JSON.stringify(out.json)}\n`);
}

function runAll(smoke: boolean): number {
  const rows: SummaryRow[] = [];
  const failed: string[] = [];
  for (const name of Object.keys(BENCHES)) {
    process.stdout.write(`\n### ${name}\n`);
    try {
      execFileSync(
        process.execPath,
        [...process.execArgv, fileURLToPath(import.meta.url), name, ...(smoke ? ['--smoke'] : [])],
        {
          stdio: 'inherit',
        },
      );
      rows.push(
        ...(JSON.parse(
          readFileSync(path.join(resultsDir, `${name}.rows.json`), 'utf8'),
        ) as SummaryRow[]),
      );
    } catch {
      failed.push(name);
    }
  }
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(path.join(resultsDir, 'summary.json'), JSON.stringify(rows, null, 2) + '\n');
  const md = [
    '| bench | metric | ours | peer | ratio | goal | pass |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.bench} | ${r.metric} | ${r.ours ?? ''} | ${r.peer ?? ''} | ${r.ratio ?? ''} | ${r.goal} | ${r.pass === null ? '' : r.pass ? 'yes' : '**no**'} |`,
    ),
  ].join('\n');
  writeFileSync(path.join(resultsDir, 'summary.md'), md + '\n');
  process.stdout.write(`\n${md}\n`);
  const missed = rows.filter((r) => r.pass === false).length;
  process.stdout.write(
    `${JSON.stringify({ bench: 'summary', benches: Object.keys(BENCHES).length, failed, goals_missed: missed })}\n`,
  );
  return failed.length > 0 ? 1 : 0;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const smoke = argv.includes('--smoke');
  const rest = argv.filter((a) => a !== '--smoke' && a !== '--all');
  const [name, ...args] = rest;
  if (!name) return runAll(smoke);
  await runOne(name, smoke, args);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(2);
  },
);
