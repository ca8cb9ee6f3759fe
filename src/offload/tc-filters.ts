import { z } from 'zod';
import type { DpFlow } from '../ovs/dpctl/index.js';
import { errorMessage, type CommandRunner } from '../sys/index.js';
import type { PortReport, Reason, TcPortView } from './types.js';

/**
 * TC's own view of a kernel-datapath port: `tc -s -j filter show dev <rep> ingress`, parsed
 * and joined with the dpctl flows. ovs-vswitchd (lib/dpif-offload-tc-netdev.c) puts the
 * flow's 128-bit ufid in the TC action cookie (`flower.act_cookie = ufid`), and iproute2
 * prints a cookie as the hex of its bytes (tc/m_action.c hexstring_n2a), so a flow's ufid
 * and a filter's cookie name the same flow.
 */

const num = z.number().nonnegative();

const statsSchema = z
  .object({
    bytes: num.optional(),
    packets: num.optional(),
    sw_bytes: num.optional(),
    sw_packets: num.optional(),
    hw_bytes: num.optional(),
    hw_packets: num.optional(),
  })
  .passthrough();

const actionSchema = z
  .object({
    order: num.optional(),
    kind: z.string(),
    cookie: z.string().optional(),
    stats: statsSchema.optional(),
    hw_stats: z.array(z.string()).optional(),
    used_hw_stats: z.array(z.string()).optional(),
  })
  .passthrough();

const optionsSchema = z
  .object({
    handle: num.optional(),
    keys: z.record(z.string(), z.unknown()).optional(),
    skip_hw: z.boolean().optional(),
    skip_sw: z.boolean().optional(),
    in_hw: z.boolean().optional(),
    not_in_hw: z.boolean().optional(),
    in_hw_count: num.optional(),
    actions: z.array(actionSchema).optional(),
  })
  .passthrough();

const filterSchema = z
  .object({
    protocol: z.string().optional(),
    pref: num.optional(),
    kind: z.string(),
    chain: num.optional(),
    // u32 and other classifiers print non-JSON `options` in old iproute2: only flower counts.
    options: z.unknown().optional(),
  })
  .passthrough();

const dumpSchema = z.array(filterSchema);

export interface TcAction {
  order: number | null;
  kind: string;
  /** The cookie as hex (lower case), null when the action has none. */
  cookie: string | null;
  /** Hardware packets: null when the dump has no stats (no -s), 0 when tc printed none. */
  hwPackets: number | null;
  hwBytes: number | null;
  /** All packets (software + hardware) the action saw; null without stats. */
  packets: number | null;
  /** `used_hw_stats` (what the driver reports: immediate, delayed), when printed. */
  usedHwStats: string[] | null;
}

export interface TcFilter {
  protocol: string | null;
  pref: number | null;
  chain: number | null;
  handle: number;
  kind: string;
  skipHw: boolean;
  skipSw: boolean;
  inHw: boolean;
  notInHw: boolean;
  inHwCount: number | null;
  actions: TcAction[];
  /** The first action cookie: OVS's ufid for the filters it installs. */
  cookie: string | null;
}

export class TcParseError extends Error {}

function toAction(a: z.infer<typeof actionSchema>): TcAction {
  const s = a.stats;
  // iproute2 prints hw_* only when they are not both zero (tc/tc_util.c print_tcstats_basic_hw).
  return {
    order: a.order ?? null,
    kind: a.kind,
    cookie: a.cookie?.toLowerCase() ?? null,
    hwPackets: s === undefined ? null : (s.hw_packets ?? 0),
    hwBytes: s === undefined ? null : (s.hw_bytes ?? 0),
    packets: s?.packets ?? null,
    usedHwStats: a.used_hw_stats ?? null,
  };
}

/**
 * Parses `tc [-s] -j filter show dev DEV ingress`. Only flower filters with a handle are
 * returned (iproute2 prints a head entry per pref/chain without options first). Throws
 * TcParseError on text that is not such a document.
 */
export function parseTcFilters(text: string): TcFilter[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch (err) {
    throw new TcParseError(`tc -j output is not JSON: ${errorMessage(err)}`);
  }
  const parsed = dumpSchema.safeParse(json);
  if (!parsed.success) {
    throw new TcParseError(`tc -j output: ${parsed.error.issues[0]?.message ?? 'bad shape'}`);
  }
  const out: TcFilter[] = [];
  for (const f of parsed.data) {
    if (f.kind !== 'flower' || f.options === undefined) continue;
    const o = optionsSchema.safeParse(f.options);
    if (!o.success || o.data.handle === undefined) continue;
    const actions = (o.data.actions ?? []).map(toAction);
    out.push({
      protocol: f.protocol ?? null,
      pref: f.pref ?? null,
      chain: f.chain ?? null,
      handle: o.data.handle,
      kind: f.kind,
      skipHw: o.data.skip_hw === true,
      skipSw: o.data.skip_sw === true,
      inHw: o.data.in_hw === true,
      notInHw: o.data.not_in_hw === true,
      inHwCount: o.data.in_hw_count ?? null,
      actions,
      cookie: actions.find((a) => a.cookie !== null)?.cookie ?? null,
    });
  }
  return out;
}

/** Hardware packets of a filter: the most any action counted (actions see the same packets). */
export function filterHwPackets(f: TcFilter): number | null {
  let best: number | null = null;
  for (const a of f.actions) {
    if (a.hwPackets !== null) best = Math.max(best ?? 0, a.hwPackets);
  }
  return best;
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');
const le32 = (n: number) => {
  const h = hex8(n);
  return `${h.slice(6, 8)}${h.slice(4, 6)}${h.slice(2, 4)}${h.slice(0, 2)}`;
};

/**
 * The TC cookies a ufid can appear as. OVS prints a ufid from its four u32 words
 * (`%08x-%04x-%04x-%04x-%04x%08x`, odp_format_ufid) and stores the u128 raw in the cookie,
 * so the cookie is the words in host byte order: little-endian first (x86, arm64), then
 * big-endian. Empty for text that is not a ufid.
 */
export function ufidCookies(ufid: string): string[] {
  const m =
    /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})([0-9a-f]{8})$/i.exec(
      ufid,
    );
  if (!m) return [];
  const [, a = '', b = '', c = '', d = '', e = '', f = ''] = m;
  const words = [a, b + c, d + e, f].map((w) => parseInt(w, 16));
  const be = words.map(hex8).join('').toLowerCase();
  const le = words.map(le32).join('').toLowerCase();
  return le === be ? [le] : [le, be];
}

/** What the TC join needs of a dpctl flow: kept while the dump streams by. */
export interface TcFlowRef {
  ufid: string | null;
  inPort: string | null;
  packets: number | string;
  offloaded: boolean;
}

/** The dpctl flows TC should hold: `dp:tc`, offloaded or not. */
export function tcFlowRef(f: DpFlow): TcFlowRef | null {
  if (f.dp !== 'tc') return null;
  return {
    ufid: f.ufid,
    inPort: f.inPort,
    packets: f.packets,
    offloaded: f.offloaded === 'yes',
  };
}

const positive = (c: number | string) => c !== 0 && c !== '0';

const reason = (
  code: Reason['code'],
  message: string,
  fix: string | null,
  evidence: string[],
): Reason => ({ code, message, fix, evidence });

const filterId = (f: TcFilter) => `pref ${f.pref ?? '?'} handle 0x${f.handle.toString(16)}`;

const s = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * Joins a port's TC filters (null: tc could not be read) with the dp:tc flows that come in
 * on it. Returns the port's TC summary and the mismatch reasons, each naming the flows.
 */
export function compareTc(
  port: string,
  filters: TcFilter[],
  flows: readonly TcFlowRef[],
): { view: TcPortView; reasons: Reason[] } {
  const byCookie = new Map<string, TcFilter>();
  for (const f of filters) if (f.cookie !== null) byCookie.set(f.cookie, f);
  const mine = flows.filter((f) => f.inPort === port);
  const missing: string[] = [];
  const zeroHw: string[] = [];
  let noUfid = 0;
  for (const fl of mine) {
    if (fl.ufid === null) {
      noUfid++;
      continue;
    }
    const filter = ufidCookies(fl.ufid)
      .map((c) => byCookie.get(c))
      .find((x) => x !== undefined);
    if (!filter) {
      if (fl.offloaded) missing.push(fl.ufid);
      continue;
    }
    if (filter.inHw && filterHwPackets(filter) === 0 && positive(fl.packets)) {
      zeroHw.push(`${fl.ufid} (${String(fl.packets)} packets in dpctl)`);
    }
  }
  const notInHw = filters.filter((f) => f.notInHw);
  const view: TcPortView = {
    filters: filters.length,
    inHw: filters.filter((f) => f.inHw).length,
    notInHw: notInHw.length,
    skipHw: filters.filter((f) => f.skipHw).length,
    tcFlows: mine.length,
    missing: missing.length,
  };
  const reasons: Reason[] = [];
  const list = (xs: string[]) => xs.slice(0, 3).join(', ') + (xs.length > 3 ? ', …' : '');
  if (missing.length > 0) {
    reasons.push(
      reason(
        'tc-filter-missing',
        `${s(missing.length, 'flow')} OVS reports as offloaded (dp:tc) on ${port} ${missing.length === 1 ? 'has' : 'have'} no TC filter on its ingress (ufid ${list(missing)}; ${s(filters.length, 'filter')} there): the kernel no longer holds ${missing.length === 1 ? 'it' : 'them'}`,
        `compare \`ovs-appctl dpctl/dump-flows -m type=offloaded\` with \`tc -s filter show dev ${port} ingress\`; a driver reload or \`tc qdisc del dev ${port} ingress\` removes filters behind OVS's back: restart ovs-vswitchd (or ovs-appctl revalidator/purge) to reinstall them`,
        missing.map(
          (u) =>
            `ufid:${u} dp:tc offloaded:yes, no filter with cookie ${ufidCookies(u)[0] ?? '?'} on ${port} ingress`,
        ),
      ),
    );
  }
  if (notInHw.length > 0) {
    const handles = notInHw.map(filterId);
    reasons.push(
      reason(
        'tc-not-in-hw',
        `${s(notInHw.length, 'TC filter')} on ${port} ${notInHw.length === 1 ? 'is' : 'are'} not_in_hw (${list(handles)}): in the kernel's software classifier, not in the NIC`,
        `ethtool -k ${port} | grep hw-tc-offload (must be on); with tc-policy=none the driver's refusal is silent: see ovs-vswitchd.log and dmesg for the mlx5/ice error`,
        notInHw.map(
          (f) =>
            `tc filter dev ${port} ingress ${filterId(f)} not_in_hw${f.cookie ? ` cookie ${f.cookie}` : ''}`,
        ),
      ),
    );
  }
  if (zeroHw.length > 0) {
    reasons.push(
      reason(
        'tc-hw-counters-zero',
        `${s(zeroHw.length, 'flow')} on ${port} ${zeroHw.length === 1 ? 'is' : 'are'} in_hw in TC but the NIC counted 0 packets while dpctl counts traffic: ${list(zeroHw)}; the packets go through the software path`,
        `tc -s filter show dev ${port} ingress: check "Sent hardware" per action; a rule the NIC holds but never hits usually means the traffic does not arrive on this representor's VF (or the NIC reports no counters for this action)`,
        zeroHw.map((z) => `ufid:${z}, TC in_hw, Sent hardware 0 pkt`),
      ),
    );
  }
  if (noUfid > 0 && reasons.length === 0 && filters.length === 0 && mine.length > 0) {
    reasons.push(
      reason(
        'tc-filter-missing',
        `${s(mine.length, 'dp:tc flow')} come${mine.length === 1 ? 's' : ''} in on ${port} but TC shows no filter on its ingress`,
        `tc -s filter show dev ${port} ingress`,
        [`tc -s -j filter show dev ${port} ingress: []`],
      ),
    );
  }
  return { view, reasons };
}

/**
 * Adds TC's view to the reports of `ports` (kernel-datapath ports): per port its summary and
 * the mismatch reasons. A port tc cannot be read for gets a note, not a reason.
 */
export async function addTcViews(
  reports: PortReport[],
  ports: ReadonlySet<string>,
  read: (dev: string) => Promise<TcFilter[]>,
  flows: readonly TcFlowRef[],
  notes: string[],
): Promise<void> {
  for (const r of reports) {
    if (!ports.has(r.port)) continue;
    let filters: TcFilter[];
    try {
      filters = await read(r.port);
    } catch (err) {
      notes.push(
        `tc filter show dev ${r.port} ingress failed: ${errorMessage(err).split('\n')[0] ?? ''}`,
      );
      continue;
    }
    const { view, reasons } = compareTc(r.port, filters, flows);
    r.tc = view;
    r.reasons.push(...reasons);
  }
}

export function tcFilterArgv(dev: string): string[] {
  return ['tc', '-s', '-j', 'filter', 'show', 'dev', dev, 'ingress'];
}

/** Runs and parses tc for one device. */
export async function readTcFilters(
  runner: CommandRunner,
  dev: string,
  timeoutMs = 10_000,
): Promise<TcFilter[]> {
  const r = await runner.run(tcFilterArgv(dev), { timeoutMs });
  return parseTcFilters(r.stdout);
}
