import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export interface SpawnedProcess {
  pid: number;
  /** Exit code (null when killed by a signal); never rejects. */
  exited: Promise<number | null>;
}

/**
 * Starts a long-running program with stdout and stderr appended to a log file. With
 * `detached` it gets its own session and no handle keeps this process alive, so it can
 * outlive us (`ovs-offload demo --keep`, the sandbox NIC daemon).
 */
export function spawnToLog(
  argv: readonly string[],
  logFile: string,
  env: Record<string, string | undefined> = {},
  opts: { detached?: boolean } = {},
): SpawnedProcess {
  const [file, ...args] = argv;
  if (!file) throw new TypeError('empty argv');
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(file, args, {
      detached: opts.detached ?? false,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...env },
    });
    if (child.pid === undefined) throw new Error(`spawn ${file}: no pid`);
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', () => resolve(null));
    });
    if (opts.detached) child.unref();
    return { pid: child.pid, exited };
  } finally {
    closeSync(fd);
  }
}

/** A detached program (see spawnToLog); returns its pid. */
export function spawnDetached(
  argv: readonly string[],
  logFile: string,
  env: Record<string, string | undefined> = {},
): number {
  return spawnToLog(argv, logFile, env, { detached: true }).pid;
}
