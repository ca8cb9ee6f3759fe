import { spawnSync } from 'node:child_process';

/**
 * Synchronous runs for tiny one-shot wrappers (the sandbox's stand-in commands), where
 * loading execa would cost more than the command itself. Argv arrays only.
 */
export function runCaptureSync(
  argv: readonly string[],
  timeoutMs = 120_000,
): { code: number; stdout: string; stderr: string } {
  const [file, ...args] = argv;
  if (!file) throw new TypeError('empty argv');
  const r = spawnSync(file, args, {
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  return {
    code: r.status ?? 1,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? (r.error ? String(r.error) : ''),
  };
}

/** Runs with this process's stdio (a pass-through); returns the exit code. */
export function runInheritSync(argv: readonly string[], timeoutMs = 120_000): number {
  const [file, ...args] = argv;
  if (!file) throw new TypeError('empty argv');
  const r = spawnSync(file, args, { stdio: 'inherit', timeout: timeoutMs });
  return r.status ?? 1;
}
