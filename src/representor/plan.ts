import { InvalidInputError } from '../sys/index.js';
import type { EswitchMode, PfInfo } from '../vf/index.js';
import { strategyFor, type StrategyName } from './strategy.js';

/** What a `nics[]` policy asks of one PF (src/agent/config.ts NicPolicy fits this shape). */
export interface EswitchPolicy {
  /** omit: leave the VF count as it is. */
  numVfs?: number;
  /** omit: leave the mode as it is. */
  eswitchMode?: EswitchMode;
  legacyPortNames?: boolean;
  /** How VF representors reach OVS (the agent config's `nics[].representorType`). */
  representorType?: 'auto' | 'netdev' | 'dpdk' | undefined;
}

export type PlanStep = { strategy: StrategyName } & (
  | { op: 'setNumVfs'; numVfs: number }
  /** Unbind every VF bound to a network driver (vfio-pci VFs stay: no netdev, maybe in use). */
  | { op: 'unbindVfs' }
  | { op: 'setEswitchMode'; mode: EswitchMode }
  /** Bind the VFs unbound by unbindVfs back to the drivers they had. */
  | { op: 'rebindVfs' }
  /** Probe a driver for VFs left without one (a bring-up interrupted between unbind and rebind). */
  | { op: 'probeVfs'; vfs: string[] }
  /** hw-tc-offload on the uplink and every representor (refusal: a warning). */
  | { op: 'hwTcOffload' }
);

export interface PlanOptions {
  /** Force an ordering (the executor's retry); default: by driver/vendor. */
  strategy?: StrategyName;
}

/**
 * The steps that take the PF from its state to the policy, in the PF's driver's order.
 * Pure: nothing is read or changed. Bad policy (numVfs above sriov_totalvfs) throws.
 */
export function planEswitch(pf: PfInfo, policy: EswitchPolicy, opts: PlanOptions = {}): PlanStep[] {
  const numVfs = policy.numVfs ?? pf.numVfs;
  if (!Number.isInteger(numVfs) || numVfs < 0) {
    throw new InvalidInputError('numVfs', `${JSON.stringify(numVfs)} is not a whole number`);
  }
  if (numVfs > pf.totalVfs) {
    throw new InvalidInputError(
      'numVfs',
      `${numVfs} is above sriov_totalvfs ${pf.totalVfs} of ${pf.pci}`,
    );
  }
  const strategy = opts.strategy ?? strategyFor(pf);
  if (pf.eswitchMode === 'dpdk') return planDpdkPf(pf, policy, numVfs, strategy);
  const mode = policy.eswitchMode ?? pf.eswitchMode;
  const modeChange =
    policy.eswitchMode !== undefined &&
    (pf.eswitchMode !== mode || (mode === 'switchdev' && pf.eswitchInactive));
  const countChange = numVfs !== pf.numVfs;
  const s = <T extends object>(step: T) => ({ strategy, ...step });
  const steps: PlanStep[] = [];
  if (!modeChange) {
    if (countChange) steps.push(s({ op: 'setNumVfs', numVfs }));
    // An mlx5-order bring-up killed between "unbind VFs" and "rebind" leaves the right count
    // and mode but VFs with no driver (and no netdev): the next run finishes the job. Only
    // with autoprobe on, where "no driver" can only mean someone took it away.
    const driverless = pf.vfs.filter((v) => v.driver === null).map((v) => v.pci);
    if (!countChange && pf.autoprobe && mode === 'switchdev' && driverless.length > 0) {
      steps.push(s({ op: 'probeVfs', vfs: driverless }));
    }
  } else if (strategy === 'ice') {
    if (pf.numVfs > 0) steps.push(s({ op: 'setNumVfs', numVfs: 0 }));
    steps.push(s({ op: 'setEswitchMode', mode }));
    if (numVfs > 0) steps.push(s({ op: 'setNumVfs', numVfs }));
  } else {
    if (countChange) steps.push(s({ op: 'setNumVfs', numVfs }));
    if (strategy === 'mlx5' && numVfs > 0) steps.push(s({ op: 'unbindVfs' }));
    steps.push(s({ op: 'setEswitchMode', mode }));
    if (strategy === 'mlx5' && numVfs > 0) steps.push(s({ op: 'rebindVfs' }));
  }
  if (mode === 'switchdev' && (policy.eswitchMode === 'switchdev' || countChange)) {
    steps.push(s({ op: 'hwTcOffload' }));
  }
  return steps;
}

/**
 * A PF on a user-space driver: only the VF count is ours to change (vfio-pci creates VFs
 * when loaded with enable_sriov=1). Its eswitch is the PMD's, which devlink cannot reach, so
 * a policy that names a mode is refused rather than "applied" by a devlink call that fails.
 */
function planDpdkPf(
  pf: PfInfo,
  policy: EswitchPolicy,
  numVfs: number,
  strategy: StrategyName,
): PlanStep[] {
  if (policy.eswitchMode !== undefined) {
    throw new InvalidInputError(
      'eswitchMode',
      `PF ${pf.pci} is bound to ${pf.driver ?? 'a user-space driver'}: its eswitch belongs to the DPDK PMD and devlink cannot set it; remove eswitchMode from this nics[] entry`,
    );
  }
  return numVfs === pf.numVfs ? [] : [{ strategy, op: 'setNumVfs', numVfs }];
}

/** One line per step, for `nics apply --plan` and logs. */
export function describeStep(pfPci: string, step: PlanStep): string {
  switch (step.op) {
    case 'setNumVfs':
      return `write ${step.numVfs} to sriov_numvfs (0 first when changing between non-zero counts)`;
    case 'unbindVfs':
      return 'unbind the VFs from their network driver (vfio-pci VFs stay bound)';
    case 'setEswitchMode':
      return `devlink dev eswitch set pci/${pfPci} mode ${step.mode}`;
    case 'rebindVfs':
      return 'bind those VFs back to the drivers they had';
    case 'probeVfs':
      return `probe drivers for VFs left without one: ${step.vfs.join(', ')}`;
    case 'hwTcOffload':
      return 'ethtool -K <uplink and each representor> hw-tc-offload on, checked with ethtool -k';
  }
}
