import { DumpParser, dumpFlows, dumpFlowsArgv, type DumpSink } from '../ovs/dpctl/index.js';
import type { InterfaceInfo, OffloadConfig, OvsdbTransport } from '../ovs/vswitch.js';
import {
  readDpdkInterfaces,
  readVswitchdDpdk,
  type DpdkInterface,
  type VswitchdDpdk,
} from './dpdk-ports.js';
import {
  CommandError,
  errorMessage,
  files,
  NotFoundError,
  OvsOffloadError,
  TimeoutError,
  type CommandRunner,
  type Logger,
} from '../sys/index.js';
import { readInventory, type Inventory, type NicContext } from '../vf/index.js';
import { parsePortTable } from './dpif-show.js';
import { judgePorts } from './judge.js';
import { PortTally } from './tally.js';
import type { OffloadFacts, OffloadReport, PfFact, PortEntry, Selection } from './types.js';
import { addNodeViews, keepTcFlows } from './node-views.js';
import type { TcFlowRef } from './tc-filters.js';
import { scanVswitchdLog, ufidsOf, VSWITCHD_LOG_TAIL_BYTES, type LogScan } from './vswitchd-log.js';

/** What the live check reads from OVSDB (a Vswitch; a fake in tests). */
export interface LiveOvsdb {
  listInterfaces(): Promise<InterfaceInfo[]>;
  getOffloadConfig(): Promise<OffloadConfig>;
}

export interface LiveDeps {
  runner: CommandRunner;
  vswitch: LiveOvsdb;
  /**
   * The OVSDB connection itself, for what Vswitch does not read: the DPDK ports' devargs
   * and the Open_vSwitch row's DPDK state (read only when a `type=dpdk` port exists).
   */
  ovsdb?: OvsdbTransport;
  /** `ovs-appctl -t` target (ovs-vswitchd's control socket); default: ovs-appctl's own. */
  ovsTarget?: string;
  /** Where eswitch modes and representors come from; without it there are no NIC facts. */
  nicCtx?: NicContext;
  /** Bound on the dump (default 60 s: a million flows take a few seconds to print). */
  timeoutMs?: number;
  logger?: Logger;
  /**
   * ovs-vswitchd's log, for the flows it refused to offload: only its tail is read (default
   * 4 MiB). `required`: a missing file is an error (a path the user gave); else a missing
   * file is no log, and an unreadable one a note.
   */
  vswitchdLog?: { path: string; required?: boolean; maxBytes?: number };
}

export interface LiveGathering {
  tally: PortTally;
  ports: PortEntry[];
  facts: OffloadFacts;
  notes: string[];
  /** The log's offload refusals and the in_port of each ufid they name, when it was read. */
  vswitchdLog?: { scan: LogScan; ufidPorts: Map<string, string> };
  /** The dump's dp:tc flows (ufid, in_port, packets), for the join with TC's filters. */
  tcFlows?: TcFlowRef[];
}

const DEFAULT_TIMEOUT_MS = 60_000;

function appctl(target: string | undefined, args: readonly string[]): string[] {
  return ['ovs-appctl', ...(target === undefined ? [] : ['-t', target]), ...args];
}

function sinkOf(tally: PortTally, ufids?: UfidWatch): DumpSink {
  if (!ufids || ufids.wanted.size === 0) {
    return { flow: (f) => tally.add(f), error: (e) => tally.addError(e) };
  }
  return {
    flow: (f) => {
      tally.add(f);
      ufids.see(f);
    },
    error: (e) => tally.addError(e),
  };
}

/** Remembers the in_port of the dump's flows whose ufid the log names. */
export class UfidWatch {
  readonly ports = new Map<string, string>();
  constructor(readonly wanted: ReadonlySet<string>) {}

  see(f: { ufid: string | null; inPort: string | null }): void {
    if (f.ufid === null || f.inPort === null) return;
    const u = f.ufid.toLowerCase();
    if (this.wanted.has(u)) this.ports.set(u, f.inPort);
  }
}

/** The tail of ovs-vswitchd's log, scanned for offload refusals; null (and a note) when absent. */
export async function readVswitchdLog(
  log: NonNullable<LiveDeps['vswitchdLog']>,
  notes: string[],
): Promise<LogScan | null> {
  try {
    const t = await files.readTail(log.path, log.maxBytes ?? VSWITCHD_LOG_TAIL_BYTES);
    return scanVswitchdLog(t.text, t.truncated);
  } catch (err) {
    if (log.required === true) throw err;
    // No log at the default place (OVS may log to syslog only): nothing to read, nothing wrong.
    if (err instanceof NotFoundError) return null;
    notes.push(`ovs-vswitchd log unreadable, refused flows not read: ${errorMessage(err)}`);
    return null;
  }
}

/**
 * `dpctl/dump-flows -m type=all`, folded as it streams: only `-m` prints `offloaded:` and
 * `dp:`, and `type=all` includes the flows that stayed in software.
 */
async function dumpTally(
  deps: LiveDeps,
  ufids?: UfidWatch,
  tcRefs?: TcFlowRef[],
): Promise<PortTally> {
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  const opts = { ...(deps.ovsTarget === undefined ? {} : { target: deps.ovsTarget }), signal };
  const tally = new PortTally();
  try {
    await dumpFlows(deps.runner, keepTcFlows(sinkOf(tally, ufids), tcRefs), opts);
    return tally;
  } catch (err) {
    if (signal.aborted) {
      throw new TimeoutError('ovs-appctl dpctl/dump-flows', timeoutMs, { cause: err });
    }
    if (!(err instanceof CommandError)) throw err;
  }
  // A streamed command's stderr is not kept; a failed dump ends fast (no daemon, no
  // socket), so running it once more is the cheap way to a typed error with the reason.
  const r = await deps.runner.run(dumpFlowsArgv(opts), { timeoutMs });
  const again = new PortTally();
  tcRefs?.splice(0);
  const parser = new DumpParser(keepTcFlows(sinkOf(again, ufids), tcRefs));
  parser.push(r.stdout);
  parser.end();
  return again;
}

async function readPortTable(deps: LiveDeps, notes: string[]): Promise<Map<string, PortEntry>> {
  try {
    const r = await deps.runner.run(appctl(deps.ovsTarget, ['dpif/show']), { timeoutMs: 15_000 });
    return new Map(parsePortTable(r.stdout).map((p) => [p.name, p]));
  } catch (err) {
    notes.push(`ovs-appctl dpif/show failed, datapath port numbers unknown: ${errorMessage(err)}`);
    return new Map();
  }
}

async function readNic(deps: LiveDeps, notes: string[]): Promise<OffloadFacts['nic']> {
  if (!deps.nicCtx) return null;
  let inv: Inventory;
  try {
    inv = await readInventory(deps.nicCtx);
  } catch (err) {
    notes.push(`NIC facts unknown (eswitch modes, representors): ${errorMessage(err)}`);
    return null;
  }
  if (inv.pfs.length === 0) notes.push('no SR-IOV PF found in sysfs: no eswitch facts');
  return { pfs: inv.pfs.map(pfFact) };
}

function pfFact(pf: Inventory['pfs'][number]): PfFact {
  const representors = pf.vfs.flatMap((v) => (v.representor === null ? [] : [v.representor]));
  const netdevs = new Set([...pf.netdevs.map((d) => d.name), ...representors]);
  return {
    pci: pf.pci,
    eswitchMode: pf.eswitchMode,
    inactive: pf.eswitchInactive,
    uplink: pf.uplink,
    representors,
    netdevs: [...netdevs].sort(),
  };
}

function podOf(ids: Record<string, string>): string | null {
  const ns = ids.pod_namespace;
  const name = ids.pod_name;
  return ns && name ? `${ns}/${name}` : null;
}

interface DpdkView {
  ports: Map<string, DpdkInterface>;
  vswitchd: VswitchdDpdk | null;
}

/** DPDK facts, when the node has DPDK ports and the connection is at hand; else a note. */
async function readDpdk(
  deps: LiveDeps,
  interfaces: readonly InterfaceInfo[],
  notes: string[],
): Promise<DpdkView | null> {
  if (!deps.ovsdb || !interfaces.some((i) => i.type === 'dpdk')) return null;
  try {
    const [ports, vswitchd] = await Promise.all([
      readDpdkInterfaces(deps.ovsdb),
      readVswitchdDpdk(deps.ovsdb),
    ]);
    return { ports: new Map(ports.map((p) => [p.name, p])), vswitchd };
  } catch (err) {
    notes.push(`DPDK port facts unknown (devargs, dpdk_initialized): ${errorMessage(err)}`);
    return null;
  }
}

function portEntry(
  i: InterfaceInfo,
  dp: PortEntry | undefined,
  dpdk: DpdkInterface | undefined,
): PortEntry {
  return {
    name: i.name,
    ofport: i.ofport,
    odp: dp?.odp ?? null,
    bridge: i.bridge,
    pod: podOf(i.externalIds),
    // OVSDB's "" is a kernel netdev, which dpif/show calls "system".
    type: dp?.type ?? (i.type === '' ? 'system' : i.type),
    datapath: dp?.datapath ?? null,
    error: i.error,
    ...(dpdk ? { dpdkDevargs: dpdk.devargs } : {}),
  };
}

/**
 * Everything the verdict needs from a running node, read at the same moment: the datapath
 * flows (streamed, O(ports) memory), OVSDB interfaces and other_config, `dpif/show` for
 * datapath numbers, and the NIC's eswitch modes and representors. A failed dump or OVSDB
 * read is an error; missing NIC facts or port numbers only make the verdict say less.
 */
export async function gatherLive(deps: LiveDeps): Promise<LiveGathering> {
  const notes: string[] = [];
  const wrap = <T>(what: string, p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      throw new OvsOffloadError(`${what}: ${errorMessage(err)}`, { cause: err });
    });
  // The log first (a bounded read): the ufids it names are looked for while the dump streams.
  const scan = deps.vswitchdLog ? await readVswitchdLog(deps.vswitchdLog, notes) : null;
  const ufids = new UfidWatch(scan ? ufidsOf(scan) : new Set());
  const tcFlows: TcFlowRef[] = [];
  const [tally, interfaces, config, table, nic] = await Promise.all([
    wrap('dump datapath flows', dumpTally(deps, ufids, tcFlows)),
    wrap('read OVS interfaces', deps.vswitch.listInterfaces()),
    wrap('read OVS other_config', deps.vswitch.getOffloadConfig()),
    readPortTable(deps, notes),
    readNic(deps, notes),
  ]);
  deps.logger?.debug({ ports: tally.tokens().length, flows: tally.all.get().total }, 'dumped');
  const dpdk = await readDpdk(deps, interfaces, notes);
  const vsd = dpdk?.vswitchd ?? null;
  return {
    tally,
    ports: interfaces.map((i) => portEntry(i, table.get(i.name), dpdk?.ports.get(i.name))),
    facts: {
      ovs: {
        hwOffload: config.hwOffload,
        tcPolicy: config.tcPolicy,
        ...(vsd ? { dpdk: { init: vsd.dpdkInit, initialized: vsd.initialized } } : {}),
      },
      nic,
    },
    notes,
    ...(scan ? { vswitchdLog: { scan, ufidPorts: ufids.ports } } : {}),
    tcFlows,
  };
}

/** gatherLive + judgePorts: the live `offload-check` (and the agent's status verdict). */
export async function checkLive(deps: LiveDeps, select: Selection = {}): Promise<OffloadReport> {
  const g = await gatherLive(deps);
  const report = judgePorts(g.tally, g.ports, g.facts, {
    select,
    source: 'live',
    notes: g.notes,
    ...(g.vswitchdLog ? { vswitchdLog: g.vswitchdLog } : {}),
  });
  // TC's view on kernel-datapath ports, offload-stats-show on a userspace datapath.
  return addNodeViews(deps, report, g.ports, g.tcFlows ?? []);
}
