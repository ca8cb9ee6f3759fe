import {
  CommandError,
  type CommandRunner,
  type LongRunning,
  type RunOptions,
  type RunResult,
} from '../../src/sys/index.js';

export type Responder = (
  argv: readonly string[],
  opts: RunOptions,
) => Partial<RunResult> | undefined | Promise<Partial<RunResult> | undefined>;

/**
 * A runner for unit tests: records every call and answers from responders (first match
 * wins); a call nobody answers fails like a missing program, so tests see unexpected calls.
 */
export class RecordingRunner implements CommandRunner {
  readonly calls: (readonly string[])[] = [];
  private readonly responders: Responder[] = [];

  on(
    match: string | RegExp | ((argv: readonly string[]) => boolean),
    result: Partial<RunResult> | ((argv: readonly string[]) => Partial<RunResult>),
  ): this {
    const test =
      typeof match === 'function'
        ? match
        : (argv: readonly string[]) => {
            const line = argv.join(' ');
            return typeof match === 'string'
              ? line === match || line.startsWith(`${match} `)
              : match.test(line);
          };
    this.responders.push((argv) =>
      test(argv) ? (typeof result === 'function' ? result(argv) : result) : undefined,
    );
    return this;
  }

  respond(r: Responder): this {
    this.responders.push(r);
    return this;
  }

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    this.calls.push([...argv]);
    for (const r of this.responders) {
      const res = await r(argv, opts);
      if (res) {
        const exitCode = res.exitCode ?? 0;
        const out = { argv, stdout: res.stdout ?? '', stderr: res.stderr ?? '', exitCode };
        if (exitCode !== 0 && !(opts.okExitCodes ?? []).includes(exitCode)) {
          throw new CommandError(argv, exitCode, out.stderr, { stdout: out.stdout });
        }
        return out;
      }
    }
    throw new CommandError(argv, 127, `no responder for: ${argv.join(' ')}`);
  }

  stream(argv: readonly string[]): LongRunning {
    this.calls.push([...argv]);
    return { exited: new Promise(() => undefined), pid: undefined, kill: () => undefined };
  }

  /** Calls as single strings, for readable assertions. */
  lines(): string[] {
    return this.calls.map((c) => c.join(' '));
  }
}
