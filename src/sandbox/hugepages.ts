import * as path from 'node:path';
import { files } from '../sys/index.js';
import type { Sandbox } from './sandbox.js';

const NR_HUGEPAGES = '/proc/sys/vm/nr_hugepages';

/**
 * 2 MB hugepages for a DPDK ovs-vswitchd: EAL cannot run without them (OVS adds
 * `--in-memory`, which EAL refuses with `--no-huge`'s legacy memory). The pool is raised only
 * when too small and put back, and the hugetlbfs mount is the sandbox's own (EAL gets it as
 * `--huge-dir`), both undone by the sandbox's cleanup after ovs-vswitchd has stopped.
 */
export async function setupHugepages(
  sb: Sandbox,
  pages: number,
): Promise<{ dir: string; raisedFrom: string | null }> {
  const before = (await files.readText(NR_HUGEPAGES)).trim();
  const raise = Number(before) < pages;
  if (raise) {
    sb.registry.add({ kind: 'setting', path: NR_HUGEPAGES, value: before });
    await files.writeText(NR_HUGEPAGES, String(pages));
    const got = Number((await files.readText(NR_HUGEPAGES)).trim());
    if (got < pages) {
      throw new Error(
        `only ${got} of ${pages} 2 MB hugepages could be reserved (memory too fragmented?)`,
      );
    }
  }
  const dir = path.join(sb.dir, 'hugepages');
  await files.mkdir(dir);
  await sb.runner.run(['mount', '-t', 'hugetlbfs', '-o', 'pagesize=2M', 'nodev', dir]);
  sb.registry.add({ kind: 'mount', path: dir });
  return { dir, raisedFrom: raise ? before : null };
}
