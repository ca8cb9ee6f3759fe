import { errorMessage, OvsOffloadError, pollUntil, type Logger } from '../sys/index.js';
import {
  bindDriver,
  probeDriver,
  readPf,
  setNumVfs,
  unbindDriver,
  USERSPACE_DRIVERS,
  type NicContext,
  type PfInfo,
} from '../vf/index.js';
import { setEswitchMode } from './eswitch.js';
import { describeStep, planEswitch, type EswitchPolicy, type PlanStep } from './plan.js';
import { otherOrdering, type StrategyName } from './strategy.js';
import { disableHwTcOffload, ensureHwTcOffload } from './tc-offload.js';

export interface ExecuteOptions {
  logger?: Logger;
  legacyPortNames?: boolean;
  /** Bound for each wait (VFs appearing, drivers binding, representors appearing). */
  timeoutMs?: number;
  /** Retry once with the other ordering when a plan with a mode change fails (default true). */
  retry?: boolean;
}

export interface ExecuteResult {
  pf: string;
  ok: boolean;
  /** The ordering that was applied (null when nothing was or it failed). */
  strategy: StrategyName | null;
  /** Things that work but not fully: hw-tc-offload refused, a VF without representor, a retry. */
  warnings: string[];
  /** Why it failed: with a retry, one line per ordering, then any undo that failed. */
  errors: string[];
}

interface Undo {
  what: string;
  run: () => Promise<void>;
}

interface Attempt {
  ok: boolean;
  error: string | null;
  warnings: string[];
  undoErrors: string[];
}

const REPRESENTOR_WAIT_MS = 10_000;

/**
 * Runs a plan on the PF, one step at a time. Each mutation registers its undo right after
 * it succeeds, and the PF is re-read after every step to verify the step had its effect (the
 * kernel may accept a write and do nothing). On failure everything done is undone in
 * reverse; a plan that changes the eswitch mode is then retried once in the other ordering
 * (firmware differs from what its driver name suggests). Both failures are reported.
 */
export async function executePlan(
  ctx: NicContext,
  pf: string | PfInfo,
  steps: readonly PlanStep[],
  opts: ExecuteOptions = {},
): Promise<ExecuteResult> {
  const c: NicContext = { ...ctx, ...(opts.logger ? { logger: opts.logger } : {}) };
  const start = typeof pf === 'string' ? await readPf(c, pf, opts) : pf;
  const pci = start.pci;
  const first = steps[0]?.strategy ?? null;
  const one = await attempt(c, start, steps, opts);
  if (one.ok) return { pf: pci, ok: true, strategy: first, warnings: one.warnings, errors: [] };

  const failed = (errors: string[], warnings: string[]): ExecuteResult => ({
    pf: pci,
    ok: false,
    strategy: null,
    warnings,
    errors,
  });
  const modeStep = steps.find((s) => s.op === 'setEswitchMode');
  if (!modeStep || first === null || opts.retry === false || one.undoErrors.length > 0) {
    return failed([one.error ?? 'failed', ...one.undoErrors], one.warnings);
  }
  const other = otherOrdering(first);
  c.logger?.warn(
    { pf: pci, failed: first, error: one.error, next: other },
    'eswitch change failed and was undone; trying the other ordering',
  );
  const now = await readPf(c, pci, opts);
  const lastCount = [...steps].reverse().find((s) => s.op === 'setNumVfs');
  const target: EswitchPolicy = {
    eswitchMode: modeStep.mode,
    numVfs: lastCount?.op === 'setNumVfs' ? lastCount.numVfs : start.numVfs,
  };
  const alt = planEswitch(now, target, { strategy: other });
  const two = await attempt(c, now, alt, opts);
  if (two.ok) {
    return {
      pf: pci,
      ok: true,
      strategy: other,
      warnings: [
        `${first} ordering failed and was undone (${one.error}); applied with the ${other} ordering`,
        ...one.warnings,
        ...two.warnings,
      ],
      errors: [],
    };
  }
  return failed(
    [`${first} ordering: ${one.error}`, `${other} ordering: ${two.error}`, ...two.undoErrors],
    [...one.warnings, ...two.warnings],
  );
}

async function attempt(
  ctx: NicContext,
  start: PfInfo,
  steps: readonly PlanStep[],
  opts: ExecuteOptions,
): Promise<Attempt> {
  const undo: Undo[] = [];
  const warnings: string[] = [];
  /** VFs unbindVfs took off their driver, for rebindVfs. */
  const unbound: { pci: string; driver: string }[] = [];
  let pf = start;
  for (const step of steps) {
    const what = describeStep(pf.pci, step);
    ctx.logger?.info({ pf: pf.pci, step: step.op, strategy: step.strategy }, what);
    try {
      await runStep(ctx, pf, step, { undo, warnings, unbound }, opts);
      pf = await readPf(ctx, pf.pci, opts);
      verify(pf, step, unbound);
    } catch (err) {
      const error = `${what}: ${errorMessage(err)}`;
      ctx.logger?.warn({ pf: pf.pci, step: step.op, error }, 'step failed; undoing');
      return { ok: false, error, warnings, undoErrors: await runUndo(ctx, undo) };
    }
  }
  return { ok: true, error: null, warnings, undoErrors: [] };
}

async function runUndo(ctx: NicContext, undo: Undo[]): Promise<string[]> {
  const errors: string[] = [];
  for (const u of [...undo].reverse()) {
    try {
      await u.run();
    } catch (err) {
      errors.push(`undo (${u.what}): ${errorMessage(err)}`);
      ctx.logger?.error({ undo: u.what, err: errorMessage(err) }, 'undo failed');
    }
  }
  return errors;
}

interface StepState {
  undo: Undo[];
  warnings: string[];
  unbound: { pci: string; driver: string }[];
}

async function runStep(
  ctx: NicContext,
  pf: PfInfo,
  step: PlanStep,
  st: StepState,
  opts: ExecuteOptions,
): Promise<void> {
  const t = opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs };
  switch (step.op) {
    case 'setNumVfs': {
      const prevCount = pf.numVfs;
      const prevDrivers = new Map(pf.vfs.map((v) => [v.vfIndex, v.driver]));
      // Registered before the write: N→M writes 0 first, so a failure half-way (M refused,
      // or the VFs never appearing) has already destroyed the N VFs to restore.
      st.undo.push({
        what: `sriov_numvfs back to ${prevCount}`,
        run: async () => {
          await setNumVfs(ctx, pf.pci, prevCount, t);
          await restoreDrivers(ctx, pf.pci, prevDrivers, opts);
        },
      });
      await setNumVfs(ctx, pf.pci, step.numVfs, t);
      return;
    }
    case 'unbindVfs':
      for (const vf of pf.vfs) {
        if (vf.driver === null || USERSPACE_DRIVERS.has(vf.driver)) continue;
        const driver = await unbindDriver(ctx, vf.pci, t);
        if (driver === null) continue;
        st.unbound.push({ pci: vf.pci, driver });
        st.undo.push({
          what: `bind ${vf.pci} to ${driver}`,
          run: () => bindDriver(ctx, vf.pci, driver, t),
        });
      }
      return;
    case 'setEswitchMode': {
      if (pf.eswitchMode === step.mode && !pf.eswitchInactive) return;
      const prev = pf.eswitchMode;
      if (prev === 'dpdk') {
        throw new OvsOffloadError(
          `PF ${pf.pci} is bound to ${pf.driver ?? '?'}: devlink cannot set its eswitch`,
        );
      }
      await setEswitchMode(ctx, pf.pci, step.mode);
      st.undo.push({
        what: `eswitch mode back to ${prev}`,
        run: () => setEswitchMode(ctx, pf.pci, prev),
      });
      return;
    }
    case 'rebindVfs':
      for (const u of st.unbound) {
        await bindDriver(ctx, u.pci, u.driver, t);
        st.undo.push({
          what: `unbind ${u.pci}`,
          run: async () => void (await unbindDriver(ctx, u.pci, t)),
        });
      }
      return;
    case 'probeVfs':
      for (const pci of step.vfs) await probeDriver(ctx, pci, t);
      return;
    case 'hwTcOffload': {
      const ready = await waitForRepresentors(ctx, pf.pci, opts);
      const missing = ready.vfs.filter((v) => v.representor === null).map((v) => v.vfIndex);
      if (ready.uplink === null) st.warnings.push(`${pf.pci}: no uplink representor found`);
      if (missing.length > 0) {
        st.warnings.push(`${pf.pci}: VF ${missing.join(', ')} without a representor`);
      }
      const netdevs = [ready.uplink, ...ready.vfs.map((v) => v.representor)].filter(
        (n): n is string => n !== null,
      );
      const r = await ensureHwTcOffload(ctx, netdevs);
      st.warnings.push(...r.warnings);
      // Only what this run switched: a representor already on before is not ours to turn off.
      st.undo.push({
        what: 'hw-tc-offload off',
        run: () => disableHwTcOffload(ctx, r.switched),
      });
      return;
    }
  }
}

/** Representors appear with the mode change (and udev renames them): wait, bounded. */
async function waitForRepresentors(
  ctx: NicContext,
  pci: string,
  opts: ExecuteOptions,
): Promise<PfInfo> {
  let last: PfInfo | undefined;
  await pollUntil(
    async () => {
      last = await readPf(ctx, pci, opts);
      return last.uplink !== null && last.vfs.every((v) => v.representor !== null)
        ? true
        : undefined;
    },
    { timeoutMs: Math.min(opts.timeoutMs ?? REPRESENTOR_WAIT_MS, REPRESENTOR_WAIT_MS) },
  );
  return last ?? readPf(ctx, pci, opts);
}

/** After VFs were re-created, put each back on the driver it had (vfio-pci included). */
async function restoreDrivers(
  ctx: NicContext,
  pci: string,
  drivers: ReadonlyMap<number, string | null>,
  opts: ExecuteOptions,
): Promise<void> {
  const t = opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs };
  const now = await readPf(ctx, pci, opts);
  for (const vf of now.vfs) {
    const want = drivers.get(vf.vfIndex);
    if (want === undefined || want === vf.driver) continue;
    if (want === null) await unbindDriver(ctx, vf.pci, t);
    else await bindDriver(ctx, vf.pci, want, t);
  }
}

/** The step's effect, as the kernel now reports it. */
function verify(pf: PfInfo, step: PlanStep, unbound: readonly { pci: string }[]): void {
  const fail = (msg: string) => {
    throw new OvsOffloadError(`verify ${step.op}: not in effect after the step: ${msg}`);
  };
  switch (step.op) {
    case 'setNumVfs':
      if (pf.numVfs !== step.numVfs || pf.vfs.length !== step.numVfs) {
        fail(`sriov_numvfs ${pf.numVfs}, ${pf.vfs.length} virtfn links, want ${step.numVfs}`);
      }
      return;
    case 'unbindVfs': {
      const still = pf.vfs.filter((v) => unbound.some((u) => u.pci === v.pci) && v.driver);
      if (still.length > 0) fail(`${still.map((v) => v.pci).join(', ')} still bound`);
      return;
    }
    case 'setEswitchMode':
      if (pf.eswitchMode !== step.mode || (step.mode === 'switchdev' && pf.eswitchInactive)) {
        fail(`devlink reports mode ${pf.eswitchInactive ? 'switchdev_inactive' : pf.eswitchMode}`);
      }
      return;
    case 'rebindVfs': {
      const off = pf.vfs.filter((v) => unbound.some((u) => u.pci === v.pci) && !v.driver);
      if (off.length > 0) fail(`${off.map((v) => v.pci).join(', ')} not bound`);
      return;
    }
    case 'probeVfs': {
      const off = pf.vfs.filter((v) => step.vfs.includes(v.pci) && !v.driver);
      if (off.length > 0) fail(`${off.map((v) => v.pci).join(', ')} still without a driver`);
      return;
    }
    case 'hwTcOffload':
      return;
  }
}
