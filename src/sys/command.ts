import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { CommandError } from './errors.js';

export interface RunOptions {
  /** Kill the command after this long (default 30 s): a hung `devlink` must not hang a pod start. */
  timeoutMs?: number;
  signal?: AbortSignal;
  input?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Exit codes other than 0 that are an answer, not a failure (e.g. `ip netns pids`). */
  okExitCodes?: readonly number[];
}

export interface RunResult {
  argv: readonly string[];
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface LongRunning {
  /** Resolves when the process ends (never rejects). */
  readonly exited: Promise<number | null>;
  readonly pid: number | undefined;
  kill(): void;
}

/**
 * The only way the project runs programs: argv arrays, never shell strings, always bounded.
 */
export interface CommandRunner {
  /** Runs to completion; throws CommandError on a non-zero exit not listed in okExitCodes. */
  run(argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Starts a long-lived command and hands each stdout line to onLine. */
  stream(argv: readonly string[], onLine: (line: string) => void, opts?: RunOptions): LongRunning;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

function checkArgv(argv: readonly string[]): [string, string[]] {
  const [file, ...args] = argv;
  if (!file) throw new TypeError('empty argv');
  for (const a of argv) {
    if (typeof a !== 'string' || a.includes('\0')) throw new TypeError(`bad argument ${String(a)}`);
  }
  return [file, args];
}

export class ExecaRunner implements CommandRunner {
  /**
   * The environment every command starts with, read once: left to itself execa copies
   * process.env (each key a call into the runtime) for every command — ~2 ms of the agent's
   * single thread per `ip` or IPAM call, measured in a CPU profile of a burst of pod ADDs.
   */
  private readonly env: Readonly<Record<string, string | undefined>>;

  constructor(baseEnv: Record<string, string | undefined> = {}) {
    this.env = { ...process.env, ...baseEnv };
  }

  private envFor(opts: RunOptions): Record<string, string | undefined> {
    return opts.env ? { ...this.env, ...opts.env } : { ...this.env };
  }

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const [file, args] = checkArgv(argv);
    const r = await execa(file, args, {
      reject: false,
      timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      ...(opts.signal ? { cancelSignal: opts.signal } : {}),
      ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' }),
      env: this.envFor(opts),
      extendEnv: false,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      stripFinalNewline: false,
      encoding: 'utf8',
    });
    const stdout = typeof r.stdout === 'string' ? r.stdout : '';
    const stderr = typeof r.stderr === 'string' ? r.stderr : '';
    const exitCode = r.exitCode ?? -1;
    if (r.failed && (r.exitCode === undefined || !(opts.okExitCodes ?? []).includes(r.exitCode))) {
      const cause = r.exitCode === undefined ? (r.cause ?? r.originalMessage) : undefined;
      throw new CommandError(argv, r.exitCode ?? null, stderr || (r.originalMessage ?? ''), {
        cause,
        signal: r.signal ?? null,
        timedOut: r.timedOut,
        stdout,
      });
    }
    return { argv, stdout, stderr, exitCode };
  }

  stream(
    argv: readonly string[],
    onLine: (line: string) => void,
    opts: RunOptions = {},
  ): LongRunning {
    const [file, args] = checkArgv(argv);
    const child = execa(file, args, {
      reject: false,
      buffer: false,
      stdin: 'ignore',
      stderr: 'ignore',
      env: this.envFor(opts),
      extendEnv: false,
      ...(opts.signal ? { cancelSignal: opts.signal } : {}),
    });
    const rl = createInterface({ input: child.stdout });
    rl.on('line', onLine);
    const exited = child.then(
      (r) => r.exitCode ?? null,
      () => null,
    );
    return {
      exited,
      pid: child.pid,
      kill: () => {
        child.kill('SIGTERM');
      },
    };
  }
}
