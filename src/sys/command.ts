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

/** What one finished command came to, in a form that crosses a worker_threads boundary. */
export interface Outcome {
  stdout: string;
  stderr: string;
  exitCode: number | undefined;
  failed: boolean;
  signal: string | null;
  timedOut: boolean;
  originalMessage: string | undefined;
  /** Why it did not run (spawn failed): the errno code is what callers look at. */
  cause: { message: string; code?: string } | undefined;
}

export interface ExecaCall {
  timeoutMs: number;
  signal?: AbortSignal;
  input?: string;
  env: Record<string, string | undefined>;
  cwd?: string;
}

/** Runs one command with execa, never throwing: the outcome says how it ended. */
export async function runExeca(file: string, args: string[], c: ExecaCall): Promise<Outcome> {
  const r = await execa(file, args, {
    reject: false,
    timeout: c.timeoutMs,
    ...(c.signal ? { cancelSignal: c.signal } : {}),
    ...(c.input !== undefined ? { input: c.input } : { stdin: 'ignore' }),
    env: c.env,
    extendEnv: false,
    ...(c.cwd ? { cwd: c.cwd } : {}),
    stripFinalNewline: false,
    encoding: 'utf8',
  });
  const cause: NodeJS.ErrnoException | undefined = r.cause instanceof Error ? r.cause : undefined;
  const code = cause?.code;
  return {
    stdout: typeof r.stdout === 'string' ? r.stdout : '',
    stderr: typeof r.stderr === 'string' ? r.stderr : '',
    exitCode: r.exitCode,
    failed: r.failed,
    signal: r.signal ?? null,
    timedOut: r.timedOut,
    originalMessage: r.originalMessage,
    cause: cause ? { message: cause.message, ...(code !== undefined ? { code } : {}) } : undefined,
  };
}

/** The result, or the CommandError a failure (other than an accepted exit code) is. */
export function settle(
  argv: readonly string[],
  r: Outcome,
  okExitCodes: readonly number[] = [],
): RunResult {
  if (r.failed && (r.exitCode === undefined || !okExitCodes.includes(r.exitCode))) {
    let cause: unknown;
    if (r.exitCode === undefined) {
      if (r.cause) {
        const e = new Error(r.cause.message) as NodeJS.ErrnoException;
        if (r.cause.code !== undefined) e.code = r.cause.code;
        cause = e;
      } else cause = r.originalMessage;
    }
    throw new CommandError(argv, r.exitCode ?? null, r.stderr || (r.originalMessage ?? ''), {
      cause,
      signal: r.signal,
      timedOut: r.timedOut,
      stdout: r.stdout,
    });
  }
  return { argv, stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? -1 };
}

export function checkArgv(argv: readonly string[]): [string, string[]] {
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

  envFor(opts: RunOptions): Record<string, string | undefined> {
    return opts.env ? { ...this.env, ...opts.env } : { ...this.env };
  }

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const [file, args] = checkArgv(argv);
    const r = await runExeca(file, args, {
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      env: this.envFor(opts),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    return settle(argv, r, opts.okExitCodes);
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
