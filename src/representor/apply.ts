import { errorMessage, InvalidInputError, OvsOffloadError } from '../sys/index.js';
import { readPf, type NicContext, type PfInfo } from '../vf/index.js';
import { executePlan, type ExecuteOptions, type ExecuteResult } from './execute.js';
import { planEswitch, type EswitchPolicy, type PlanStep } from './plan.js';

/** A `nics[]` entry of the agent config: the PF by netdev (`pf`) or PCI address (`pci`). */
export interface NicPolicyInput extends EswitchPolicy {
  pf?: string;
  pci?: string;
}

export interface PlannedNic {
  policy: NicPolicyInput;
  pf: PfInfo;
  steps: PlanStep[];
}

/**
 * Resolves and plans every policy before anything is changed: a policy naming a PF that does
 * not exist, or asking more VFs than sriov_totalvfs, fails the whole set with nothing done.
 * Two policies for one PF are refused for the same reason.
 */
export async function planNicPolicies(
  ctx: NicContext,
  policies: readonly NicPolicyInput[],
): Promise<PlannedNic[]> {
  const out: PlannedNic[] = [];
  for (const [i, policy] of policies.entries()) {
    const which = policy.pci ?? policy.pf;
    if (which === undefined) throw new InvalidInputError(`nics[${i}]`, 'needs "pf" or "pci"');
    try {
      const pf = await readPf(ctx, which, policy);
      const dup = out.find((p) => p.pf.pci === pf.pci);
      if (dup) throw new InvalidInputError('PF', `${pf.pci} has two policies`);
      out.push({ policy, pf, steps: planEswitch(pf, policy) });
    } catch (err) {
      if (err instanceof InvalidInputError) {
        throw new InvalidInputError(`nics[${i}] (${which})`, err.message, { cause: err });
      }
      throw new OvsOffloadError(`plan nics[${i}] (${which}): ${errorMessage(err)}`, { cause: err });
    }
  }
  return out;
}

/** Executes planned policies one PF at a time; each result stands alone. */
export async function applyPlannedNics(
  ctx: NicContext,
  planned: readonly PlannedNic[],
  opts: ExecuteOptions = {},
): Promise<ExecuteResult[]> {
  const results: ExecuteResult[] = [];
  for (const p of planned) {
    const legacy = p.policy.legacyPortNames ?? opts.legacyPortNames ?? false;
    results.push(await executePlan(ctx, p.pf, p.steps, { ...opts, legacyPortNames: legacy }));
  }
  return results;
}
