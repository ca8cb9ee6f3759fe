import * as fsp from 'node:fs/promises';
import { errnoCode } from './errors.js';

/** statfs(2) f_type of nsfs, the filesystem every namespace file lives on (linux/magic.h). */
const NSFS_MAGIC = 0x6e736673;

/**
 * What a netns path is, as the kernel tells it: a namespace file is identified by the
 * (st_dev, st_ino) of its nsfs inode, the same for every path that names it (a bind mount
 * under /run/netns, /proc/PID/ns/net, a runtime's own pin). Paths are never compared as text.
 */
export type NetnsProbe = { kind: 'missing' } | { kind: 'not-nsfs' } | { kind: 'nsfs'; id: string };

export async function probeNetns(p: string): Promise<NetnsProbe> {
  let st: { dev: number; ino: number };
  try {
    st = await fsp.stat(p);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ESRCH') return { kind: 'missing' };
    throw err;
  }
  const fs = await fsp.statfs(p);
  if (fs.type !== NSFS_MAGIC) return { kind: 'not-nsfs' };
  return { kind: 'nsfs', id: `${st.dev}:${st.ino}` };
}

/**
 * The network namespaces a CNI request must never name: the one this process runs in (the
 * agent's "home", where VFs and representors live) and the node's initial one (pid 1's).
 */
export async function protectedNetnsIds(): Promise<Set<string>> {
  const out = new Set<string>();
  for (const p of ['/proc/self/ns/net', '/proc/1/ns/net']) {
    try {
      const r = await probeNetns(p);
      if (r.kind === 'nsfs') out.add(r.id);
    } catch (err) {
      // Reading another process's ns links needs ptrace access to it: a container whose
      // pid 1 belongs to a more privileged context answers EACCES. Our own is always there.
      const code = errnoCode(err);
      if (code !== 'EACCES' && code !== 'EPERM') throw err;
    }
  }
  return out;
}
