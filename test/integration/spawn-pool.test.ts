import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CommandError, ExecaRunner, ThreadedRunner } from '../../src/sys/index.js';

/**
 * The agent's command runner as it runs from dist/: commands spawned from worker threads
 * (dist/spawn-worker.js, built by the integration global setup) answer exactly as
 * ExecaRunner's do.
 */
const repo = fileURLToPath(new URL('../..', import.meta.url));
const worker = pathToFileURL(path.join(repo, 'dist/spawn-worker.js'));
const threaded = new ThreadedRunner({ OO_TEST: 'base' }, worker, 2, 200);
const direct = new ExecaRunner({ OO_TEST: 'base' });

afterAll(() => threaded.close());

async function outcome(p: Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await p };
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    const cause = err.cause as { code?: string } | string | undefined;
    return {
      message: err.message,
      exitCode: err.exitCode,
      stderr: err.stderr,
      stdout: err.stdout,
      timedOut: err.timedOut,
      causeCode: typeof cause === 'object' ? cause.code : undefined,
    };
  }
}

describe('ThreadedRunner', () => {
  it.each([
    ['output and exit 0', ['sh', '-c', 'echo out; echo err >&2'], {}],
    [
      'stdin, env and cwd',
      ['sh', '-c', 'cat; echo "$OO_TEST $OO_MORE"; pwd'],
      { input: 'in\n', env: { OO_MORE: 'x' }, cwd: '/tmp' },
    ],
    ['an exit code taken as an answer', ['sh', '-c', 'exit 3'], { okExitCodes: [3] }],
    ['a failure with its stderr and stdout', ['sh', '-c', 'echo o; echo bad >&2; exit 2'], {}],
    ['a program that does not exist', ['/nonexistent/ovs-offload-tool'], {}],
    ['a timeout', ['sleep', '5'], { timeoutMs: 100 }],
  ])('answers %s as ExecaRunner does', async (_what, argv, opts) => {
    const want = await outcome(direct.run(argv, opts));
    expect(await outcome(threaded.run(argv, opts))).toEqual(want);
  });

  it('cancels on an abort signal, before and while the command runs', async () => {
    const ac = new AbortController();
    const t = Date.now();
    const p = outcome(threaded.run(['sleep', '5'], { signal: ac.signal }));
    setTimeout(() => ac.abort(), 100);
    expect(await p).toMatchObject({ exitCode: null });
    expect(Date.now() - t).toBeLessThan(3000);
    await expect(threaded.run(['true'], { signal: ac.signal })).rejects.toThrow(CommandError);
  });

  it('runs many commands at once and keeps each answer with its command', async () => {
    const rs = await Promise.all(
      Array.from({ length: 40 }, (_, i) => threaded.run(['sh', '-c', `echo ${i}`])),
    );
    expect(rs.map((r) => r.stdout)).toEqual(Array.from({ length: 40 }, (_, i) => `${i}\n`));
  });

  it('stops idle workers and starts them again when needed', async () => {
    await threaded.run(['true']);
    await new Promise((r) => setTimeout(r, 600));
    expect((await threaded.run(['echo', 'again'])).stdout).toBe('again\n');
  });
});
