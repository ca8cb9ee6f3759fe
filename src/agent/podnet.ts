import { z } from 'zod';
import type { CniResult } from '../cni/types.js';
import {
  describeNetns,
  errorMessage,
  kernelAtLeast,
  probeNetns,
  type CommandRunner,
  type Ip,
  type Netns,
  netnsFromPath,
  netnsTarget,
} from '../sys/index.js';

/**
 * The pod side of an attachment: moving a VF netdev between the agent's netns ("home") and
 * a pod netns, and configuring it there.
 *
 * `ip link set DEV netns NS name NEW` is one RTM_SETLINK but not one step: the kernel moves
 * the device under its current name (it uses NEW at once only when the current name is
 * taken in NS), then renames it. When NEW appeared in NS meanwhile the rename fails with
 * EEXIST and the device stays in NS under its old name. So nothing after the move ever
 * trusts a name: every later step finds the VF by its PCI parent (see findVfLink).
 */

const LinkSchema = z
  .object({
    ifindex: z.number().optional(),
    ifname: z.string(),
    address: z.string().optional(),
    mtu: z.number().optional(),
    operstate: z.string().optional(),
    parentbus: z.string().optional(),
    parentdev: z.string().optional(),
  })
  .passthrough();
export type PodLink = z.infer<typeof LinkSchema>;

export interface LinkFacts {
  name: string;
  mac: string | null;
  mtu: number | null;
}

/** The netns this process runs in, as a path another `ip` (even one inside `-n POD`) can open. */
export function homeNetnsPath(): string {
  return `/proc/${process.pid}/ns/net`;
}

export async function netnsExists(p: string): Promise<boolean> {
  return p !== '' && (await probeNetns(p)).kind === 'nsfs';
}

/**
 * Every link of a netns; `details` adds `parentbus`/`parentdev` (`-d`), which costs the
 * kernel more per link: only identity checks ask for it.
 */
export async function listLinks(ip: Ip, ns: Netns, details = true): Promise<PodLink[]> {
  const r = await ip.run(ns, [...(details ? ['-d'] : []), '-j', 'link', 'show']);
  const parsed = z.array(LinkSchema).safeParse(JSON.parse(r.stdout.trim() || '[]'));
  if (!parsed.success)
    throw new Error(`ip -d -j link show ${describeNetns(ns)}: unexpected output`);
  return parsed.data;
}

/**
 * The VF's netdev in `ns`, proven by what the kernel reports and a pod cannot forge: its
 * PCI parent (IFLA_PARENT_DEV_NAME/BUS_NAME, `parentdev`/`parentbus`, kernel >= 5.15), never
 * its name, ifindex (renumbered when a pod already uses it) or MAC (a pod with NET_ADMIN can
 * give a veth any MAC). Kernels before 5.15 lack the attribute: there `ethtool -i` run in
 * the netns answers with the driver's bus-info, which a veth does not have.
 */
export async function findVfLink(
  ip: Ip,
  runner: CommandRunner,
  ns: Netns,
  vfPci: string,
): Promise<PodLink | null> {
  const links = await listLinks(ip, ns);
  const byParent = links.find((l) => l.parentbus === 'pci' && l.parentdev === vfPci);
  if (byParent || kernelAtLeast(5, 15)) return byParent ?? null;
  for (const l of links) {
    if (l.ifname === 'lo') continue;
    const argv = ['ethtool', '-i', l.ifname];
    const r = await runner.run(ns === null ? argv : ip.wrap(ns, argv), {
      okExitCodes: [1, 71, 75],
    });
    if (new RegExp(`^bus-info: ${vfPci.replace(/\./g, '\\.')}$`, 'm').test(r.stdout)) return l;
  }
  return null;
}

export async function linkFacts(ip: Ip, ns: Netns, name: string): Promise<LinkFacts | null> {
  const r = await ip.run(ns, ['-j', 'link', 'show', 'dev', name], { okExitCodes: [1, 255] });
  if (r.exitCode !== 0) return null;
  const parsed = z.array(LinkSchema).safeParse(JSON.parse(r.stdout || '[]'));
  const l = parsed.success ? parsed.data[0] : undefined;
  return l ? { name: l.ifname, mac: l.address ?? null, mtu: l.mtu ?? null } : null;
}

/**
 * Moves `dev` from home into the pod netns as `ifName`, renamed in the same RTM_SETLINK.
 * `homeFirst` lines (e.g. the representor up) share its `ip -batch`: one fork fewer.
 */
export async function moveToPod(
  ip: Ip,
  dev: string,
  podNetns: string,
  ifName: string,
  homeFirst: readonly (readonly string[])[] = [],
): Promise<void> {
  const pod = netnsFromPath(podNetns);
  await ip.batch(null, [
    ...homeFirst,
    // Down first: the kernel closes a device that changes netns anyway, and a VF that
    // arrives up would briefly carry traffic before its MAC is set.
    ['link', 'set', 'dev', dev, 'down'],
    ['link', 'set', 'dev', dev, 'netns', netnsTarget(pod), 'name', ifName],
  ]);
}

/** MAC, MTU, up, addresses and routes of the pod interface, in one pod-side `ip -batch`. */
export async function configureInPod(
  ip: Ip,
  podNetns: string,
  ifName: string,
  opts: {
    mac?: string | undefined;
    mtu?: number | undefined;
    addresses?: CniResult | null;
    /** Routes without `gw` are on-link (Kube-OVN) rather than via the address's gateway. */
    routesOnLink?: boolean;
  },
): Promise<void> {
  const lines: string[][] = [];
  if (opts.mac) lines.push(['link', 'set', 'dev', ifName, 'address', opts.mac]);
  if (opts.mtu) lines.push(['link', 'set', 'dev', ifName, 'mtu', String(opts.mtu)]);
  lines.push(['link', 'set', 'dev', ifName, 'up']);
  if (opts.addresses)
    lines.push(...addressLines(ifName, opts.addresses, { onLink: opts.routesOnLink ?? false }));
  await ip.batch(netnsFromPath(podNetns), lines);
}

/** Moves the pod's `ifName` back home as `homeName`, restoring MAC/MTU when known. */
export async function moveHome(
  ip: Ip,
  podNetns: string,
  ifName: string,
  homeName: string,
  restore: { mac?: string | null; mtu?: number | null },
): Promise<void> {
  const pod = netnsFromPath(podNetns);
  const lines: string[][] = [['link', 'set', 'dev', ifName, 'down']];
  // Restore inside the pod: once home, the name could briefly be claimed by udev rules.
  if (restore.mac) lines.push(['link', 'set', 'dev', ifName, 'address', restore.mac]);
  if (restore.mtu) lines.push(['link', 'set', 'dev', ifName, 'mtu', String(restore.mtu)]);
  lines.push(['link', 'set', 'dev', ifName, 'netns', homeNetnsPath(), 'name', homeName]);
  await ip.batch(pod, lines);
}

/** Renames a VF that came home on its own (pod netns destroyed) back to its original name. */
export async function renameAtHome(
  ip: Ip,
  current: string,
  homeName: string,
  restore: { mac?: string | null; mtu?: number | null },
): Promise<void> {
  const lines: string[][] = [['link', 'set', 'dev', current, 'down']];
  if (restore.mac) lines.push(['link', 'set', 'dev', current, 'address', restore.mac]);
  if (restore.mtu) lines.push(['link', 'set', 'dev', current, 'mtu', String(restore.mtu)]);
  if (current !== homeName) lines.push(['link', 'set', 'dev', current, 'name', homeName]);
  await ip.batch(null, lines);
}

/**
 * `ip` lines for the addresses and routes of a result on the pod interface. Routes in order
 * with `ip route replace`, as Kube-OVN applies them (netlink.RouteReplace): a later route
 * with an earlier one's destination replaces it. A route without `gw` goes via the gateway of
 * its family (an IPAM result: the CNI spec leaves it to the plugin) or, with `onLink`, is
 * on-link (Kube-OVN's routes).
 */
export function addressLines(
  ifName: string,
  result: CniResult,
  opts: { onLink?: boolean } = {},
): string[][] {
  const lines: string[][] = [];
  for (const a of result.ips ?? []) {
    // No DAD for IPv6: the address is ours by IPAM, and a tentative address would make
    // the pod's first connections fail.
    lines.push(
      a.address.includes(':')
        ? ['addr', 'add', a.address, 'dev', ifName, 'nodad']
        : ['addr', 'add', a.address, 'dev', ifName],
    );
  }
  for (const r of result.routes ?? []) {
    const gw =
      r.gw ??
      (opts.onLink
        ? undefined
        : (result.ips ?? []).find(
            (a) => a.gateway && a.address.includes(':') === r.dst.includes(':'),
          )?.gateway);
    lines.push(
      gw
        ? ['route', 'replace', r.dst, 'via', gw, 'dev', ifName]
        : ['route', 'replace', r.dst, 'dev', ifName],
    );
  }
  return lines;
}

/** Whether the pod netns has `ifName` (CHECK, DEL). */
export async function podHasLink(
  ip: Ip,
  podNetns: string,
  ifName: string,
): Promise<LinkFacts | null> {
  try {
    return await linkFacts(ip, netnsFromPath(podNetns), ifName);
  } catch (err) {
    throw new Error(`inspect ${ifName} in ${podNetns}: ${errorMessage(err)}`, { cause: err });
  }
}
