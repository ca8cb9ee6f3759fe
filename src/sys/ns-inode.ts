import { statSync } from 'node:fs';

/**
 * The identity of a namespace file (`dev:ino` of its nsfs inode, /proc/…/ns/* links followed):
 * the same for every path that names the namespace. Null when the path is absent or unreadable.
 * Synchronous and dependency-free: the sandbox's stand-in commands call it once per run.
 */
export function nsInodeSync(p: string): string | null {
  try {
    const st = statSync(p);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}
