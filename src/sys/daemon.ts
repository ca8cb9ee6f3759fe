import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';

/**
 * Starts a program that must outlive this process (`ovs-offload demo --keep`, the sandbox
 * NIC daemon): its own session, stdio to a log file, no handle kept here.
 */
export function spawnDetached(
  argv: readonly string[],
  logFile: string,
  env: Record<string, string | undefined> = {},
): number {
  const [file, ...args] = argv;
  if (!file) throw new TypeError('empty argv');
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(file, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...env },
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`spawn ${file}: no pid`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}
