import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { Node } from './sandbox.js';

/**
 * Everything a CNI request could change on an emulated node, as one comparable value: links
 * (ifindex, name, state, MAC, MTU, flags) with addresses and routes, in the host netns and
 * in every pod; OVS ports and interfaces with external_ids; the agent's state dir; the IPAM
 * data dir; and the emulated NIC (its sysfs-level view). A rejected request must leave it
 * exactly equal.
 */
export async function snapshotHost(
  node: Node,
  dirs: { stateDir: string; ipamDir: string },
  pods: readonly string[],
): Promise<Record<string, unknown>> {
  const netns = async (ns: { name: string }) => ({
    links: ((await node.sb.ip.json(ns, ['link', 'show'])) as Record<string, unknown>[]).map(
      (l) => ({
        ifindex: l.ifindex,
        ifname: l.ifname,
        operstate: l.operstate,
        address: l.address,
        mtu: l.mtu,
        flags: l.flags,
        master: l.master,
      }),
    ),
    // IPv6 link-local addresses and their routes are the kernel's own, made a moment after
    // a link comes up (and tentative until DAD ends): no request of ours adds them.
    addrs: ((await node.sb.ip.json(ns, ['addr', 'show'])) as Record<string, unknown>[]).map(
      (l) => ({
        ifname: l.ifname,
        addr_info: ((l.addr_info ?? []) as Record<string, unknown>[]).filter(
          (a) => a.scope !== 'link',
        ),
      }),
    ),
    routes: ((await node.sb.ip.json(ns, ['route', 'show', 'table', 'all'])) as { dst?: string }[])
      .concat(
        (await node.sb.ip.json(ns, ['-6', 'route', 'show', 'table', 'all'])) as { dst?: string }[],
      )
      .filter((r) => !r.dst?.startsWith('fe80') && r.dst !== 'ff00::/8'),
  });
  const ovs = async (table: string, columns: string) =>
    JSON.parse(
      (await node.ovs.vsctl(['--format=json', `--columns=${columns}`, 'list', table])).stdout,
    ) as unknown;
  return {
    host: await netns({ name: node.sb.hostNetns }),
    pods: Object.fromEntries(
      await Promise.all(pods.map(async (p) => [p, await netns({ name: p })] as const)),
    ),
    ovsPorts: await ovs('Port', 'name,tag,external_ids,interfaces'),
    ovsInterfaces: await ovs('Interface', 'name,type,external_ids,mtu_request'),
    stateDir: await tree(dirs.stateDir),
    ipamDir: await tree(dirs.ipamDir),
    nic: await node.nic.state(),
  };
}

/** Names, sizes and contents of every file under dir (absent: null). */
async function tree(dir: string): Promise<Record<string, string> | null> {
  if (!existsSync(dir)) return null;
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if ((await stat(p)).size < 1 << 20)
        out[path.relative(dir, p)] = await readFile(p, 'utf8');
    }
  };
  await walk(dir);
  return out;
}
