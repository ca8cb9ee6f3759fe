/**
 * Offload refusals from ovs-vswitchd's log. The grammar of a vlog line (lib/vlog.c, the
 * default file pattern `%D{%Y-%m-%dT%H:%M:%S.###Z}|%05N|%c%T|%p|%m`):
 *
 *   line     = time "|" seq "|" module [ "(" thread ")" ] "|" level "|" message
 *   time     = ISO-8601 UTC, e.g. 2019-09-23T03:14:48.824Z
 *   seq      = decimal digits (per-process message counter)
 *   module   = [A-Za-z0-9_]+          (dpif_netlink, netdev_offload_tc, tc, …)
 *   thread   = [^)]*                  (handler2, revalidator11, …)
 *   level    = EMER | ERR | WARN | INFO | DBG
 *
 * then the message of an offload module is classified into a refusal cause. A rate-limited
 * module says "Dropped N log messages in last S seconds …": those N refusals are counted,
 * not seen. Lines that do not fit the grammar are skipped (a log is not ours to validate).
 */

export type VlogLevel = 'EMER' | 'ERR' | 'WARN' | 'INFO' | 'DBG';

export interface VlogLine {
  time: string;
  seq: number;
  module: string;
  thread: string | null;
  level: VlogLevel;
  message: string;
}

const LINE_RE =
  /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z?)\|(\d+)\|([A-Za-z0-9_]+)(?:\(([^)]*)\))?\|(EMER|ERR|WARN|INFO|DBG)\|(.*)$/;

export function parseVlogLine(line: string): VlogLine | null {
  const m = LINE_RE.exec(line.replace(/\r$/, ''));
  if (!m) return null;
  return {
    time: m[1] ?? '',
    seq: Number(m[2]),
    module: m[3] ?? '',
    thread: m[4] ?? null,
    level: (m[5] ?? 'INFO') as VlogLevel,
    message: m[6] ?? '',
  };
}

/** Why ovs-vswitchd (or the kernel/driver under it) refused to put a flow into the NIC. */
export type RefusalCause =
  | 'unsupported-match'
  | 'unsupported-action'
  | 'ct-not-supported'
  | 'encap-not-supported'
  | 'hw-tc-offload-off'
  | 'driver-refused'
  | 'offload-failed';

export interface Refusal {
  cause: RefusalCause;
  /** The log line, whole, as evidence. */
  line: string;
  time: string;
  module: string;
  /** The netdev the line names (`failed to offload flow: …: <netdev>`), when it names one. */
  netdev: string | null;
  /** The datapath flow's ufid the line names, when it names one. */
  ufid: string | null;
  /** The errno text (`Operation not supported`) or the driver's message. */
  detail: string;
  /** Words of the message, for attribution by a port name it mentions. */
  words: string[];
}

export interface LogScan {
  refusals: Refusal[];
  /** Offload messages the rate limiter dropped ("Dropped N log messages"), summed. */
  suppressed: number;
  /** Lines read (whole lines of the tail). */
  lines: number;
  /** Only the tail of the log was read. */
  truncated: boolean;
}

/** Modules whose errors are offload refusals (lib/netdev-offload-*.c, dpif-offload-*.c, tc.c). */
const OFFLOAD_MODULE = /^(netdev_offload(_tc|_dpdk)?|dpif_offload\w*|tc|dpif_netlink)$/;

const UFID_RE = /\bufid[:= ]?\s*([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/i;
const DROPPED_RE = /^Dropped (\d+) log messages in last \d+ seconds/;
const SUPPRESSED_RE = /(\d+) (?:log )?messages suppressed/;
const FAILED_RE = /^failed to offload flow: (.+): (\S*)$/;
/** netdev-offload-dpdk: `dpdk0: rte_flow creation failed: 1 (Function not implemented).` (2.13)
 * and `…: rte_flow creation failed [1 (msg)]: …` (later). */
const RTE_FLOW_RE = /^(\S+): rte_flow creation failed:? \[?(\d+ \([^)]*\))/;
const DRIVER_RE = /\bError: ([A-Za-z0-9_]+): (.+)$/;
const HW_TC_OFFLOAD_RE = /TC offload is disabled on net device|hw-tc-offload/i;
const CT_RE =
  /\bct_state\b|\bct[ _](clear|action|zone|mark|label)|\bconntrack\b|\bct\b|recirc_id sharing/i;
const ENCAP_RE = /tunnel|\bencap|\bdecap|geneve|vxlan|gre\b|tun options|tun_/i;
const ACTION_RE = /\baction\b|actions\b|\bset\b.*\bnot supported|Can only support \d+ actions/i;
const UNSUPPORTED_RE =
  /unsupported|isn't supported|not supported|can't offload|cannot be offloaded/i;

const MATCH_RE = /attribute|match|\bkey\b|mask|fragment|mpls_lse|field/i;

/**
 * The cause a refusal text tells: null when it tells no refusal. A driver's own message
 * (`fromDriver`) is always a refusal; what it names (ct, tunnels, hw-tc-offload) refines it.
 */
function classifyText(text: string, fromDriver = false): RefusalCause | null {
  if (HW_TC_OFFLOAD_RE.test(text)) return 'hw-tc-offload-off';
  if (!fromDriver && !UNSUPPORTED_RE.test(text)) return null;
  if (CT_RE.test(text)) return 'ct-not-supported';
  if (ENCAP_RE.test(text)) return 'encap-not-supported';
  if (fromDriver) return 'driver-refused';
  if (ACTION_RE.test(text)) return 'unsupported-action';
  if (MATCH_RE.test(text)) return 'unsupported-match';
  return 'offload-failed';
}

/**
 * The refusal a message of an offload module tells, or null when it tells none (INFO chatter,
 * "added ingress qdisc to …", probe results).
 */
export function classifyMessage(
  module: string,
  message: string,
): { cause: RefusalCause; netdev: string | null; detail: string } | null {
  const failed = FAILED_RE.exec(message);
  if (failed) {
    const detail = failed[1] ?? '';
    const netdev = failed[2] === '' ? null : (failed[2] ?? null);
    return { cause: classifyText(detail) ?? 'offload-failed', netdev, detail };
  }
  const rte = RTE_FLOW_RE.exec(message);
  if (rte) {
    const detail = rte[2] ?? '';
    return { cause: classifyText(detail) ?? 'offload-failed', netdev: rte[1] ?? null, detail };
  }
  const driver = DRIVER_RE.exec(message);
  if (driver) {
    const detail = `${driver[1] ?? ''}: ${driver[2] ?? ''}`;
    return { cause: classifyText(detail, true) ?? 'driver-refused', netdev: null, detail };
  }
  if (!OFFLOAD_MODULE.test(module)) return null;
  const cause = classifyText(message);
  return cause === null ? null : { cause, netdev: null, detail: message };
}

/** Scan log text (whole lines). Lines outside the grammar and non-refusals are skipped. */
export function scanVswitchdLog(text: string, truncated = false): LogScan {
  const scan: LogScan = { refusals: [], suppressed: 0, lines: 0, truncated };
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    scan.lines++;
    const line = raw.replace(/\r$/, '');
    const v = parseVlogLine(line);
    if (!v) {
      // Kernel-style "N messages suppressed" lines (syslog, journald) that land in the file.
      const s = SUPPRESSED_RE.exec(line);
      if (s && /offload|tc|dpif/.test(line)) scan.suppressed += Number(s[1]);
      continue;
    }
    if (!OFFLOAD_MODULE.test(v.module) && !DRIVER_RE.test(v.message)) continue;
    const dropped = DROPPED_RE.exec(v.message) ?? SUPPRESSED_RE.exec(v.message);
    if (dropped) {
      scan.suppressed += Number(dropped[1]);
      continue;
    }
    if (v.level === 'INFO' && !FAILED_RE.test(v.message)) continue;
    const c = classifyMessage(v.module, v.message);
    if (!c) continue;
    scan.refusals.push({
      cause: c.cause,
      line,
      time: v.time,
      module: v.module,
      netdev: c.netdev,
      ufid: UFID_RE.exec(v.message)?.[1]?.toLowerCase() ?? null,
      detail: c.detail,
      words: v.message.split(/[\s:,'"`()]+/).filter((w) => w !== ''),
    });
  }
  return scan;
}

/** The ufids a scan names: what to look for in the dump while it streams. */
export function ufidsOf(scan: LogScan): Set<string> {
  return new Set(scan.refusals.flatMap((r) => (r.ufid === null ? [] : [r.ufid])));
}

/** Default bound on how much of the log is read: its last 4 MiB. */
export const VSWITCHD_LOG_TAIL_BYTES = 4 * 1024 * 1024;
