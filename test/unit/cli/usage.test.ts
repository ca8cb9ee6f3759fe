import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { HelpRequested, parse, UsageError } from '../../../src/cli/usage.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const USAGE = 'usage: thing [--json] [--port NAME]';
const OPTIONS = { json: { type: 'boolean' }, port: { type: 'string' } } as const;

describe('parse', () => {
  it('returns the values and positionals', () => {
    expect(parse(['--json', '--port', 'p0', 'file'], OPTIONS, USAGE)).toEqual({
      values: { json: true, port: 'p0' },
      positionals: ['file'],
    });
  });

  it.each([['--help'], ['-h'], ['--json', '-h', 'file']])(
    '%s throws HelpRequested carrying the usage (main prints it, exit 0)',
    (...argv) => {
      let thrown: unknown;
      try {
        parse(argv, OPTIONS, USAGE);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(HelpRequested);
      expect(thrown).not.toBeInstanceOf(UsageError);
      expect((thrown as HelpRequested).usage).toBe(USAGE);
    },
  );

  it('a bad command line is a UsageError naming the problem, with the usage', () => {
    expect(() => parse(['--nope'], OPTIONS, USAGE)).toThrow(UsageError);
    expect(() => parse(['--nope'], OPTIONS, USAGE)).toThrow(/--nope[\s\S]*usage: thing/);
    expect(() => parse(['x'], OPTIONS, USAGE, false)).toThrow(UsageError);
  });
});

// Runs the real entry point (through tsx): a few seconds each, more on a busy machine.
describe('ovs-offload <command> --help', { timeout: 60_000 }, () => {
  const run = promisify(execFile);
  const cli = (...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT });

  it('prints the command usage on stdout and exits 0', async () => {
    const { stdout, stderr } = await cli('flows', '--help');
    expect(stdout).toMatch(/^usage: ovs-offload flows /);
    expect(stdout.endsWith('\n')).toBe(true);
    expect(stderr).toBe('');
  });

  it('a bad option still exits 2 with the reason on stderr', async () => {
    await expect(cli('flows', '--nope')).rejects.toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringMatching(/^ovs-offload flows: .*--nope/) as unknown,
    });
  });
});
