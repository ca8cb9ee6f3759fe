import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

/**
 * The one-door rule (docs/architecture.md, eslint.config.js): outside src/sys nothing loads the
 * host modules, nothing reads process.env, and domains import only the folders they may. The
 * probes below go through the repository's own lint configuration. They are not files of the
 * TypeScript project, so type-aware linting is switched off for them; the fence rules are
 * syntactic and do not need it.
 */

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

const eslint = new ESLint({
  cwd: repoRoot,
  overrideConfig: { files: ['**/*.ts'], ...tseslint.configs.disableTypeChecked },
});

const FENCE_RULES = new Set(['no-restricted-imports', 'no-restricted-syntax']);

/** Line numbers (1-based) the fence rules report for `code` linted as if it were `filePath`. */
async function fenceLines(code: string, filePath: string): Promise<number[]> {
  const [result] = await eslint.lintText(code, { filePath });
  expect(result).toBeDefined();
  const fatal = result!.messages.filter((m) => m.fatal);
  expect(fatal).toEqual([]);
  const lines = result!.messages
    .filter((m) => m.ruleId !== null && FENCE_RULES.has(m.ruleId))
    .map((m) => m.line);
  return [...new Set(lines)].sort((a, b) => a - b);
}

/** Every line of this probe breaks the fence when it sits in src/vf. */
const VIOLATIONS = [
  "import { readFileSync } from 'node:fs';",
  "import { readFile } from 'fs/promises';",
  "import { readFile as readFileP } from 'node:fs/promises';",
  "import { spawn } from 'child_process';",
  "import { connect } from 'net';",
  "import { request } from 'http';",
  "import { request as requestTls } from 'https';",
  "import { connect as connectH2 } from 'http2';",
  "import { connect as connectTls } from 'tls';",
  "import { createSocket } from 'dgram';",
  "import { lookup } from 'dns';",
  "import { Worker } from 'worker_threads';",
  "import { execa } from 'execa';",
  "export const resolver = import('node:dns');",
  'export const x = process.env.X;',
  'export const { HOME } = process.env;',
  "export const all = process['env'];",
  "import { Agent } from '../agent/agent.js';",
  "export const lazyAgent = import('../agent/agent.js');",
];

const PROBE =
  VIOLATIONS.join('\n') +
  '\nexport { readFileSync, readFile, readFileP, spawn, connect, request, requestTls, connectH2,' +
  ' connectTls, createSocket, lookup, Worker, execa, Agent };\n';

const ALL_LINES = VIOLATIONS.map((_, i) => i + 1);

function lineOf(source: string): number {
  const i = VIOLATIONS.indexOf(source);
  expect(i).toBeGreaterThanOrEqual(0);
  return i + 1;
}

describe('lint fence (one door to the host)', () => {
  it('reports every violation in a domain folder, one per line', async () => {
    expect(await fenceLines(PROBE, 'src/vf/__probe__.ts')).toEqual(ALL_LINES);
  });

  it('reports every host and environment violation outside the known folders', async () => {
    const lines = await fenceLines(PROBE, 'src/__probe__.ts');
    // src/ itself has no domain rules, so only the two agent imports pass.
    const agent = [
      lineOf("import { Agent } from '../agent/agent.js';"),
      lineOf("export const lazyAgent = import('../agent/agent.js');"),
    ];
    expect(lines).toEqual(ALL_LINES.filter((l) => !agent.includes(l)));
  });

  it('lets src/sys, src/cni/main.ts and src/sandbox read process.env', async () => {
    const code = 'export const x = process.env.X;\nexport const { HOME } = process.env;\n';
    expect(await fenceLines(code, 'src/sys/__probe__.ts')).toEqual([]);
    expect(await fenceLines(code, 'src/cni/main.ts')).toEqual([]);
    expect(await fenceLines(code, 'src/sandbox/__probe__.ts')).toEqual([]);
    expect(await fenceLines(code, 'src/cni/__probe__.ts')).toEqual([1, 2]);
  });

  it('lets src/sys load every host module', async () => {
    const host = VIOLATIONS.slice(0, lineOf("export const resolver = import('node:dns');"));
    expect(await fenceLines(host.join('\n'), 'src/sys/__probe__.ts')).toEqual([]);
  });

  it('lets the OVSDB transport use node:net, and nothing more', async () => {
    const code = [
      "import * as net from 'node:net';",
      "import type { Socket } from 'net';",
      "export const later = import('node:net');",
      "import { request } from 'node:http';",
      "import { readFile } from 'node:fs/promises';",
      "import { Agent } from '../../agent/agent.js';",
      'export { net, request, readFile, Agent };',
      'export type { Socket };',
    ].join('\n');
    expect(await fenceLines(code, 'src/ovs/ovsdb/__probe__.ts')).toEqual([4, 5, 6]);
    expect(await fenceLines(code, 'src/ovs/__probe__.ts')).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('lets the agent and the CNI client use node:http, but not https or the environment', async () => {
    const code = [
      "import { createServer } from 'node:http';",
      "import { request } from 'https';",
      'export const x = process.env.X;',
      'export { createServer, request };',
    ].join('\n');
    expect(await fenceLines(code, 'src/agent/__probe__.ts')).toEqual([2, 3]);
    expect(await fenceLines(code, 'src/cni/client.ts')).toEqual([2, 3]);
    expect(await fenceLines(code, 'src/cni/main.ts')).toEqual([2]);
  });

  it('keeps the domain import boundaries', async () => {
    const code = [
      "import { a } from '../vf/index.js';",
      "import { b } from '../sys/index.js';",
      "import { c } from '../ovs/index.js';",
      'export { a, b, c };',
    ].join('\n');
    expect(await fenceLines(code, 'src/representor/__probe__.ts')).toEqual([3]);
    expect(await fenceLines(code, 'src/offload/__probe__.ts')).toEqual([]);
    expect(await fenceLines(code, 'src/cni/__probe__.ts')).toEqual([1, 2, 3]);
    expect(await fenceLines(code, 'src/agent/__probe__.ts')).toEqual([]);
  });
});
