import { loadAgentConfig } from '../../agent/config.js';
import {
  autoRepresentorType,
  dpdkReadiness,
  readVswitchdDpdk,
  type VswitchdDpdk,
} from '../../offload/index.js';
import { OvsdbClient } from '../../ovs/ovsdb/index.js';
import {
  applyPlannedNics,
  describeDpdkPf,
  describeStep,
  planNicPolicies,
  type ExecuteResult,
  type PlannedNic,
} from '../../representor/index.js';
import {
  assertAbsolutePath,
  createLogger,
  errorMessage,
  ExecaRunner,
  files,
  SysFs,
} from '../../sys/index.js';
import { readInventory, type Inventory, type NicContext } from '../../vf/index.js';
import { parse, UsageError } from '../usage.js';

const USAGE = `usage: ovs-offload nics [--sysfs-root DIR] [--legacy-port-names] [--json]
       ovs-offload nics apply --config FILE [--plan] [--sysfs-root DIR]

  nics         SR-IOV PFs and VFs of this node: ids, drivers, eswitch mode, uplink, representors
  nics apply   bring every PF of the agent config's nics[] to its numVfs/eswitchMode
               (--plan: print the steps, change nothing); exit 1 when a PF could not be applied`;

/** DESIGN.md §3.4: exactly these keys, in this order. */
export function inventoryJson(inv: Inventory): unknown {
  return {
    pfs: inv.pfs.map((pf) => ({
      pci: pf.pci,
      netdev: pf.netdev,
      driver: pf.driver,
      vendor: pf.vendor,
      device: pf.device,
      numa: pf.numa,
      totalVfs: pf.totalVfs,
      numVfs: pf.numVfs,
      eswitchMode: pf.eswitchMode,
      uplink: pf.uplink,
      vfs: pf.vfs.map((vf) => ({
        index: vf.vfIndex,
        pci: vf.pci,
        netdev: vf.netdev,
        driver: vf.driver,
        mac: vf.mac,
        linkState: vf.operstate,
        representor: vf.representor,
      })),
    })),
  };
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

export function inventoryTable(inv: Inventory): string {
  if (inv.pfs.length === 0) return 'no SR-IOV network PFs found';
  const d = (v: string | number | null) => (v === null ? '-' : String(v));
  const out: string[] = [];
  for (const pf of inv.pfs) {
    const mode = pf.eswitchInactive ? 'switchdev (inactive)' : pf.eswitchMode;
    out.push(
      ...table([
        ['PF', 'NETDEV', 'DRIVER', 'ID', 'NUMA', 'VFS', 'ESWITCH', 'UPLINK'],
        [
          pf.pci,
          d(pf.netdev),
          d(pf.driver),
          `${d(pf.vendor)}:${d(pf.device)}`,
          d(pf.numa),
          `${pf.numVfs}/${pf.totalVfs}`,
          mode,
          d(pf.uplink),
        ],
      ]),
    );
    if (pf.vfs.length > 0) {
      const rows = [['VF', 'PCI', 'NETDEV', 'DRIVER', 'MAC', 'LINK', 'REPRESENTOR']];
      for (const vf of pf.vfs) {
        rows.push([
          String(vf.vfIndex),
          vf.pci,
          d(vf.netdev),
          d(vf.driver),
          d(vf.mac),
          d(vf.operstate),
          d(vf.representor),
        ]);
      }
      out.push(...table(rows).map((l) => `  ${l}`));
    }
    out.push('');
  }
  return out.join('\n').trimEnd();
}

function planText(planned: readonly PlannedNic[]): string {
  const out: string[] = [];
  for (const p of planned) {
    const head = `${p.pf.pci} (${p.pf.netdev ?? 'no netdev'}, ${p.pf.driver ?? 'no driver'})`;
    if (p.steps.length === 0) {
      out.push(`${head}: nothing to do`);
      continue;
    }
    out.push(`${head}: ${p.steps[0]?.strategy ?? ''} ordering`);
    p.steps.forEach((s, i) => out.push(`  ${i + 1}. ${describeStep(p.pf.pci, s)}`));
  }
  return out.join('\n');
}

/** What OVSDB said about DPDK, or why it could not be asked. */
export type VswitchdView = { vs: VswitchdDpdk } | { error: string };

/** The PFs whose VFs get DPDK representor ports: the §3.5 `representorType` rule. */
export function dpdkPfs(
  planned: readonly PlannedNic[],
  view: VswitchdView | null,
  bridge: string,
): PlannedNic[] {
  return planned.filter((p) => {
    if (p.pf.eswitchMode === 'dpdk') return true;
    const kind = p.policy.representorType ?? 'auto';
    if (kind !== 'auto') return kind === 'dpdk';
    return view !== null && 'vs' in view && autoRepresentorType(view.vs, bridge) === 'dpdk';
  });
}

/**
 * The DPDK part of the plan: how each DPDK PF is driven and what ovs-vswitchd still needs.
 * Empty when no PF goes through DPDK. Reported only: nothing in other_config is changed.
 */
export function dpdkPlanText(
  planned: readonly PlannedNic[],
  view: VswitchdView | null,
  opts: { bridge: string; hwOffload?: boolean | undefined },
): string[] {
  const dpdk = dpdkPfs(planned, view, opts.bridge);
  if (dpdk.length === 0) return [];
  const out = ['DPDK representors:'];
  for (const p of dpdk) {
    out.push(`  ${p.pf.pci}: ${describeDpdkPf(p.pf).join('; ')}`);
  }
  if (view === null || 'error' in view) {
    out.push(`  ovs-vswitchd: not checked (${view?.error ?? 'OVSDB not asked'})`);
    return out;
  }
  for (const f of dpdkReadiness(view.vs, opts)) {
    out.push(`  ${f.ok ? 'ok  ' : 'FAIL'} ${f.what}: ${f.message}`);
    if (f.fix !== null) out.push(`       fix: ${f.fix}`);
  }
  return out;
}

/**
 * OVSDB's DPDK facts when they can matter: always when some PF is DPDK-bound or asks for
 * DPDK representors; for `auto` only when the database socket exists (a node without OVS
 * yet gets its kernel plan without waiting on a connection that cannot succeed).
 */
async function readVswitchdView(
  db: string,
  planned: readonly PlannedNic[],
): Promise<VswitchdView | null> {
  const kinds = planned.map((p) =>
    p.pf.eswitchMode === 'dpdk' ? 'dpdk' : (p.policy.representorType ?? 'auto'),
  );
  if (!kinds.some((k) => k !== 'netdev')) return null;
  const needed = kinds.includes('dpdk');
  const socket = db.startsWith('unix:') ? db.slice('unix:'.length) : null;
  if (socket !== null && !(await files.exists(socket))) {
    return needed ? { error: `${socket} does not exist (ovsdb-server not running?)` } : null;
  }
  let client: OvsdbClient | null = null;
  try {
    client = await OvsdbClient.connect(db, { timeoutMs: 3000 });
    return { vs: await readVswitchdDpdk(client) };
  } catch (err) {
    return needed ? { error: `${db}: ${errorMessage(err)}` } : null;
  } finally {
    await client?.close().catch(() => undefined);
  }
}

function resultText(results: readonly ExecuteResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    const how = r.strategy ? ` (${r.strategy} ordering)` : '';
    out.push(`${r.pf}: ${r.ok ? 'ok' : 'FAILED'}${r.ok ? how : ''}`);
    for (const w of r.warnings) out.push(`  warning: ${w}`);
    for (const e of r.errors) out.push(`  error: ${e}`);
  }
  return out.join('\n');
}

function context(sysfsRoot: string): NicContext {
  return {
    sysfs: new SysFs(assertAbsolutePath(sysfsRoot, '--sysfs-root')),
    runner: new ExecaRunner(),
    logger: createLogger('ovs-offload-nics'),
  };
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      'sysfs-root': { type: 'string' },
      'legacy-port-names': { type: 'boolean' },
      json: { type: 'boolean' },
      config: { type: 'string' },
      plan: { type: 'boolean' },
    },
    USAGE,
  );
  const [sub, ...extra] = positionals;
  if (extra.length > 0 || (sub !== undefined && sub !== 'apply')) {
    throw new UsageError(`unexpected argument ${JSON.stringify(sub ?? extra[0])}\n${USAGE}`);
  }

  if (sub === undefined) {
    if (values.config !== undefined || values.plan) {
      throw new UsageError(`--config and --plan belong to \`nics apply\`\n${USAGE}`);
    }
    const inv = await readInventory(context(values['sysfs-root'] ?? '/'), {
      legacyPortNames: values['legacy-port-names'] ?? false,
    });
    process.stdout.write(
      `${values.json ? JSON.stringify(inventoryJson(inv), null, 2) : inventoryTable(inv)}\n`,
    );
    return 0;
  }

  if (values.config === undefined) throw new UsageError(`nics apply needs --config FILE\n${USAGE}`);
  const config = await loadAgentConfig(values.config);
  const ctx = context(values['sysfs-root'] ?? config.sysfsRoot);
  const legacy = values['legacy-port-names'] ?? false;
  const planned = await planNicPolicies(
    ctx,
    config.nics.map((n) => ({ ...n, legacyPortNames: n.legacyPortNames || legacy })),
  );
  const view = await readVswitchdView(config.ovs.db, planned);
  const dpdk = dpdkPlanText(planned, view, {
    bridge: config.ovs.bridge,
    hwOffload: config.ovs.hwOffload,
  });
  if (values.plan) {
    const text = planned.length === 0 ? 'no nics[] in the config' : planText(planned);
    process.stdout.write(`${[text, ...dpdk].join('\n')}\n`);
    return 0;
  }
  const results = await applyPlannedNics(ctx, planned);
  const lines = [...(results.length > 0 ? [resultText(results)] : []), ...dpdk];
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
  return results.every((r) => r.ok) ? 0 : 1;
}
