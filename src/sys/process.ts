import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { errnoCode } from './errors.js';

/**
 * Whether a process still runs. A zombie is dead: daemons we start with --detach are
 * re-parented to PID 1, and some inits reap only every few seconds.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export function signalPid(pid: number, signal: NodeJS.Signals = 'SIGTERM'): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** The node name Kubernetes knows this host by (NODE_NAME from the downward API wins). */
export function hostname(): string {
  return process.env.NODE_NAME ?? osHostname();
}
