// Deep imports, not the sys barrel: a stand-in runs on every devlink/ip call and must not
// load execa, pino or zod to do it.
import { errorMessage } from '../../sys/errors.js';
import { runCaptureSync, runInheritSync } from '../../sys/exec-sync.js';
import { requestJsonLine } from '../../sys/jsonline-socket.js';
import { nsInodeSync } from '../../sys/ns-inode.js';
import { parseIpArgv } from './ipvf.js';
import type { LinkExtras, ShowLinksReply, ShownLink, ToolResult } from './protocol.js';

/**
 * The devlink / ip / ethtool stand-ins the sandbox puts first on PATH:
 *   node nic-standin.js <tool> <nicd.sock> <real binary> ARGS…
 * Emulated calls are answered by the NIC daemon; anything else runs the real binary here,
 * in the caller's own netns.
 */
function passthrough(real: string, argv: string[]): number {
  return runInheritSync([real, ...argv]);
}

function emit(r: ToolResult): number {
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.code;
}

/** The netns `ip` listed: `-n NAME` is /var/run/netns/NAME (iproute2's netns_switch), else ours. */
function listedNetnsId(netns: string | null): string | null {
  return nsInodeSync(netns === null ? '/proc/self/ns/net' : `/var/run/netns/${netns}`);
}

/** JSON keys iproute2 prints after `parentbus`/`parentdev` (print_linkinfo, 6.1). */
const AFTER_PARENT = ['ifalias', 'stats', 'stats64', 'vfinfo_list', 'altnames'];

/** A copy of `obj` with `add` placed before the first of `before` (else at the end). */
function insertBefore(
  obj: Record<string, unknown>,
  add: Record<string, unknown>,
  before: readonly string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let placed = false;
  for (const [k, v] of Object.entries(obj)) {
    if (!placed && before.includes(k)) {
      Object.assign(out, add);
      placed = true;
    }
    out[k] = v;
  }
  if (!placed) Object.assign(out, add);
  return out;
}

function withExtras(
  l: Record<string, unknown>,
  e: LinkExtras | undefined,
): Record<string, unknown> {
  if (!e) return l;
  let out = l;
  if (e.parentdev !== undefined)
    out = insertBefore(out, { parentbus: e.parentbus, parentdev: e.parentdev }, AFTER_PARENT);
  if (e.vfinfo && e.vfinfo.json.length > 0)
    out = insertBefore(out, { vfinfo_list: e.vfinfo.json }, ['altnames']);
  return out;
}

/** The details fields `parentbus … parentdev …` follow in text: queues, GSO/GRO/TSO, port ids. */
const DETAILS_TAIL = /numtxqueues \d+ (?:[a-z0-9_]+ \d+ )*(?:(?:portname|portid|switchid) \S+ )*/;

/** A text block's header `N: name[@peer]: <FLAGS>`; `@ifN` with link-netns(id) is another netns. */
function shownFromText(lines: readonly string[]): ShownLink | null {
  const m = /^(\d+): ([^:@\s]+)(?:@([^:\s]+))?: /.exec(lines[0] ?? '');
  if (!m?.[1] || !m[2]) return null;
  const shown: ShownLink = { ifindex: Number(m[1]), ifname: m[2] };
  const peer = m[3];
  if (peer === undefined || peer === 'NONE') return shown;
  const other = /^if(\d+)$/.exec(peer);
  if (other?.[1] && / link-netns(id)? /.test(lines.join('\n'))) shown.link_index = Number(other[1]);
  else shown.link = peer;
  return shown;
}

function shownFromJson(l: Record<string, unknown>): ShownLink | null {
  if (typeof l.ifindex !== 'number' || typeof l.ifname !== 'string') return null;
  const shown: ShownLink = { ifindex: l.ifindex, ifname: l.ifname };
  if (typeof l.link === 'string') shown.link = l.link;
  if (typeof l.link_index === 'number') shown.link_index = l.link_index;
  return shown;
}

/**
 * `ip link show` as the kernel would print it with the emulated NIC: the real output, plus
 * a PF's VF list and (with -d) the PCI parent of the NIC's netdevs. One daemon request.
 */
async function ipShow(sock: string, real: string, argv: string[]): Promise<number> {
  const { global } = parseIpArgv(argv);
  const r = runCaptureSync([real, ...argv]);
  process.stderr.write(r.stderr);
  if (r.code !== 0) return r.code;
  // Brief output has neither details nor VF lists.
  if (global.brief) {
    process.stdout.write(r.stdout);
    return 0;
  }
  const netnsId = listedNetnsId(global.netns);
  const ask = async (links: ShownLink[]): Promise<ShowLinksReply> =>
    links.length === 0
      ? {}
      : ((await requestJsonLine(sock, {
          op: 'showLinks',
          netnsId,
          details: global.details,
          links,
        })) as ShowLinksReply);

  if (global.json) {
    const links = JSON.parse(r.stdout || '[]') as Record<string, unknown>[];
    const extras = await ask(links.flatMap((l) => shownFromJson(l) ?? []));
    const out = links.map((l) => withExtras(l, extras[String(l.ifindex)]));
    process.stdout.write(
      (global.pretty ? JSON.stringify(out, null, 4) : JSON.stringify(out)) + '\n',
    );
    return 0;
  }

  // Text: one block per link, from its "N: name:" header to the next; trailing lines of the
  // output ('' after the last newline) stay last.
  const blocks: { shown: ShownLink | null; lines: string[] }[] = [{ shown: null, lines: [] }];
  for (const line of r.stdout.split('\n')) {
    if (/^\d+: /.test(line)) blocks.push({ shown: null, lines: [line] });
    else blocks[blocks.length - 1]?.lines.push(line);
  }
  for (const b of blocks) if (b.lines.length > 0) b.shown = shownFromText(b.lines);
  const extras = await ask(blocks.flatMap((b) => b.shown ?? []));
  const out: string[] = [];
  for (const b of blocks) {
    const e = b.shown ? extras[String(b.shown.ifindex)] : undefined;
    const lines = [...b.lines];
    if (e?.parentdev !== undefined) {
      const i = lines.findIndex((l) => DETAILS_TAIL.test(l));
      const line = lines[i];
      if (line !== undefined)
        lines[i] = line.replace(
          DETAILS_TAIL,
          (tail) => `${tail}parentbus ${e.parentbus ?? 'pci'} parentdev ${e.parentdev} `,
        );
    }
    // VF lines follow the link's own lines, before the blank line ending the output.
    let end = lines.length;
    while (end > 1 && lines[end - 1] === '') end--;
    out.push(...lines.slice(0, end), ...(e?.vfinfo?.text ?? []), ...lines.slice(end));
  }
  process.stdout.write(out.join('\n'));
  return 0;
}

async function main(): Promise<number> {
  const [, , tool, sock, real, ...argv] = process.argv;
  if (!tool || !sock || !real) throw new Error('usage: nic-standin <tool> <sock> <real> ARGS…');
  if (tool === 'devlink')
    return emit((await requestJsonLine(sock, { op: 'devlink', argv })) as ToolResult);
  if (tool === 'ethtool') {
    const r = (await requestJsonLine(sock, { op: 'ethtool', argv })) as ToolResult;
    return r.passthrough ? passthrough(real, argv) : emit(r);
  }
  if (tool === 'ip') {
    const { words } = parseIpArgv(argv);
    const isShow =
      (words[0] === 'link' || words[0] === 'l') &&
      (words[1] === undefined || words[1] === 'show' || words[1] === 'list' || words[1] === 'ls');
    if (isShow) return ipShow(sock, real, argv);
    // Only `ip link set [dev] PF vf N …` is the NIC's; spare the daemon everything else.
    const vfSet = (words[0] === 'link' || words[0] === 'l') && words[1] === 'set';
    if (!vfSet || !words.includes('vf')) return passthrough(real, argv);
    const r = (await requestJsonLine(sock, { op: 'ip', argv })) as ToolResult;
    return r.passthrough ? passthrough(real, argv) : emit(r);
  }
  throw new Error(`unknown tool ${tool}`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`sandbox stand-in: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
