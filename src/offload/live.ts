import { DumpParser, dumpFlows, dumpFlowsArgv, type DumpSink } from '../ovs/dpctl/index.js';
import type { InterfaceInfo, OffloadConfig } from '../ovs/vswitch.js';
import {
  CommandError,
  errorMessage,
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

/** What the live check reads from OVSDB (a Vswitch; a fake in tests). */
export interface LiveOvsdb {
  listInterfaces(): Promise<InterfaceInfo[]>;
  getOffloadConfig(): Promise<OffloadConfig>;
}

export interface LiveDeps {
  runner: CommandRunner;
  vswitch: LiveOvsdb;
  /** `ovs-appctl -t` target (ovs-vswitchd's control socket); default: ovs-appctl's own. */
  ovsTarget?: string;
  /** Where eswitch modes and representors come from; without it there are no NIC facts. */
  nicCtx?: NicContext;
  /** Bound on the dump (default 60 s: a million flows take a few seconds to print). */
  timeoutMs?: number;
  logger?: Logger;
}

export interface LiveGathering {
  tally: PortTally;
  ports: PortEntry[];
  facts: OffloadFacts;
  notes: string[];
}

const DEFAULT_TIMEOUT_MS = 60_000;

function appctl(target: string | undefined, args: readonly string[]): string[] {
  return ['ovs-appctl', ...(target === undefined ? [] : ['-t', target]), ...args];
}

function sinkOf(tally: PortTally): DumpSink {
  return { flow: (f) => tally.add(f), error: (e) => tally.addError(e) };
}

/**
 * `dpctl/dump-flows -m type=all`, folded as it streams: only `-m` prints `offloaded:` and
 * `dp:`, and `type=all` includes the flows that stayed in software.
 */
async function dumpTally(deps: LiveDeps): Promise<PortTally> {
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  const opts = { ...(deps.ovsTarget === undefined ? {} : { target: deps.ovsTarget }), signal };
  const tally = new PortTally();
  try {
    await dumpFlows(deps.runner, sinkOf(tally), opts);
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
  const parser = new DumpParser(sinkOf(again));
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

function portEntry(i: InterfaceInfo, dp: PortEntry | undefined): PortEntry {
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
  const [tally, interfaces, config, table, nic] = await Promise.all([
    wrap('dump datapath flows', dumpTally(deps)),
    wrap('read OVS interfaces', deps.vswitch.listInterfaces()),
    wrap('read OVS other_config', deps.vswitch.getOffloadConfig()),
    readPortTable(deps, notes),
    readNic(deps, notes),
  ]);
  deps.logger?.debug({ ports: tally.tokens().length, flows: tally.all.get().total }, 'dumped');
  return {
    tally,
    ports: interfaces.map((i) => portEntry(i, table.get(i.name))),
    facts: { ovs: { hwOffload: config.hwOffload, tcPolicy: config.tcPolicy }, nic },
    notes,
  };
}

/** gatherLive + judgePorts: the live `offload-check` (and the agent's status verdict). */
export async function checkLive(deps: LiveDeps, select: Selection = {}): Promise<OffloadReport> {
  const g = await gatherLive(deps);
  return judgePorts(g.tally, g.ports, g.facts, { select, source: 'live', notes: g.notes });
}
