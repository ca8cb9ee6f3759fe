import {
  errorMessage,
  files,
  isAlive,
  signalPid,
  sleep,
  type CommandRunner,
} from '../sys/index.js';

/**
 * What a sandbox created, so cleanup can undo it in reverse order (even after a failed
 * test) and an after-all check can prove nothing was left behind.
 */
export type Resource =
  | { kind: 'netns'; name: string }
  | { kind: 'mount'; path: string }
  /** A link in the root netns (the sandbox's veth to the outside). */
  | { kind: 'link'; name: string }
  | { kind: 'dir'; path: string }
  | { kind: 'pid'; pid: number; what: string }
  | { kind: 'pidfile'; path: string; what: string }
  /** A kernel setting (/proc/sys, sysfs) written for the sandbox: `value` is put back. */
  | { kind: 'setting'; path: string; value: string };

export class ResourceRegistry {
  private readonly items: Resource[] = [];

  constructor(private readonly runner: CommandRunner) {}

  add(r: Resource): void {
    this.items.push(r);
  }

  list(): readonly Resource[] {
    return this.items;
  }

  /** Undo everything, newest first; keeps going past failures and reports them all. */
  async cleanup(): Promise<string[]> {
    const problems: string[] = [];
    while (this.items.length > 0) {
      const r = this.items.pop();
      if (!r) break;
      try {
        await this.release(r);
      } catch (err) {
        problems.push(`${describe(r)}: ${errorMessage(err)}`);
      }
    }
    return problems;
  }

  private async release(r: Resource): Promise<void> {
    switch (r.kind) {
      case 'pid':
        await stopPid(r.pid);
        return;
      case 'pidfile': {
        const text = await files.readTextOrNull(r.path);
        const pid = text ? parseInt(text.trim(), 10) : NaN;
        if (Number.isInteger(pid) && pid > 0) await stopPid(pid);
        return;
      }
      case 'mount':
        await this.runner.run(['umount', '-l', r.path], { okExitCodes: [32] });
        return;
      case 'netns':
        await this.runner.run(['ip', 'netns', 'delete', r.name], { okExitCodes: [1] });
        return;
      case 'link':
        await this.runner.run(['ip', 'link', 'delete', r.name], { okExitCodes: [1] });
        return;
      case 'dir':
        await files.rm(r.path, { recursive: true });
        return;
      case 'setting':
        await files.writeText(r.path, r.value);
        return;
    }
  }
}

export function describe(r: Resource): string {
  switch (r.kind) {
    case 'netns':
      return `netns ${r.name}`;
    case 'mount':
      return `mount ${r.path}`;
    case 'link':
      return `link ${r.name}`;
    case 'dir':
      return `dir ${r.path}`;
    case 'pid':
      return `${r.what} pid ${r.pid}`;
    case 'pidfile':
      return `${r.what} (${r.path})`;
    case 'setting':
      return `setting ${r.path}`;
  }
}

/** SIGTERM, wait up to 3 s, then SIGKILL: daemons get a chance to remove their sockets. */
export async function stopPid(pid: number): Promise<void> {
  if (!signalPid(pid, 'SIGTERM')) return;
  for (let i = 0; i < 60; i++) {
    if (!isAlive(pid)) return;
    await sleep(50);
  }
  signalPid(pid, 'SIGKILL');
  for (let i = 0; i < 40 && isAlive(pid); i++) await sleep(25);
}
