import { OWNER_KEY } from '../ovs/vswitch-types.js';
import type { Vswitch } from '../ovs/vswitch.js';
import {
  applyPlannedNics,
  describeStep,
  findUplink,
  planNicPolicies,
  type PlannedNic,
} from '../representor/index.js';
import { errorMessage, type Logger } from '../sys/index.js';
import type { NicContext } from '../vf/index.js';
import type { NicPolicy } from './config.js';

/** What `/status` and the logs say about one `nics[]` entry after start-up. */
export interface PfPolicyStatus {
  policy: string;
  pci: string | null;
  plan: string[];
  ok: boolean;
  strategy: string | null;
  warnings: string[];
  errors: string[];
  uplinkBridge: { bridge: string; port: string | null; ok: boolean; error?: string } | null;
}

/** external_ids key telling an uplink port (NIC policy) from pod ports. */
export const ROLE_KEY = 'ovs-offload-role';

const describePolicy = (p: NicPolicy) => p.pci ?? p.pf ?? '?';

/**
 * Brings every `nics[]` PF to its policy (numVfs, eswitch mode) with the NIC layer's planner
 * and executor, one PF at a time, each on its own: a PF that is absent or refuses stays in
 * the status as an error and the others go on. A plan that would recreate VFs or change the
 * eswitch mode under pods that use this PF's VFs is refused: it would pull their interfaces
 * out from under them.
 */
export async function reconcileNics(
  ctx: NicContext,
  policies: readonly NicPolicy[],
  deps: {
    vswitch: Vswitch;
    owner: string;
    logger: Logger;
    vfsInUse: ReadonlySet<string>;
    /** Checked between PFs: a stop request lets the PF under way finish its plan, not start the next. */
    signal?: AbortSignal;
  },
): Promise<PfPolicyStatus[]> {
  const out: PfPolicyStatus[] = [];
  for (const policy of policies) {
    deps.signal?.throwIfAborted();
    const status: PfPolicyStatus = {
      policy: describePolicy(policy),
      pci: null,
      plan: [],
      ok: false,
      strategy: null,
      warnings: [],
      errors: [],
      uplinkBridge: null,
    };
    out.push(status);
    let planned: PlannedNic | undefined;
    try {
      [planned] = await planNicPolicies(ctx, [policy]);
    } catch (err) {
      status.errors.push(errorMessage(err));
      deps.logger.error(
        { pf: status.policy, err: errorMessage(err) },
        'NIC policy cannot be planned',
      );
      continue;
    }
    if (!planned) continue;
    status.pci = planned.pf.pci;
    status.plan = planned.steps.map((step) => describeStep(planned.pf.pci, step));
    deps.logger.info(
      { pf: planned.pf.pci, plan: status.plan },
      planned.steps.length ? 'NIC plan' : 'NIC already as configured',
    );
    const disruptive = planned.steps.some(
      (s) => s.op === 'setNumVfs' || s.op === 'setEswitchMode' || s.op === 'unbindVfs',
    );
    const busy = planned.pf.vfs.filter((v) => deps.vfsInUse.has(v.pci)).map((v) => v.pci);
    if (disruptive && busy.length > 0) {
      status.errors.push(
        `not applied: VFs ${busy.join(', ')} are attached to pods; recreating VFs or changing the eswitch mode would break them (drain the node first)`,
      );
      deps.logger.error({ pf: planned.pf.pci, busy }, 'NIC plan refused: VFs in use');
    } else if (planned.steps.length > 0) {
      const [r] = await applyPlannedNics(ctx, [planned], { logger: deps.logger });
      if (r) {
        status.ok = r.ok;
        status.strategy = r.strategy;
        status.warnings.push(...r.warnings);
        status.errors.push(...r.errors);
      }
    } else {
      status.ok = true;
    }
    for (const w of status.warnings) deps.logger.warn({ pf: planned.pf.pci }, w);
    for (const e of status.errors) deps.logger.error({ pf: planned.pf.pci }, e);
    if (policy.uplinkBridge && status.ok) {
      status.uplinkBridge = await attachUplink(ctx, planned.pf.pci, policy, deps);
    }
  }
  return out;
}

/** The uplink representor onto the provider bridge (e.g. br-phy), marked as ours. */
async function attachUplink(
  ctx: NicContext,
  pfPci: string,
  policy: NicPolicy,
  deps: { vswitch: Vswitch; owner: string; logger: Logger },
): Promise<NonNullable<PfPolicyStatus['uplinkBridge']>> {
  const bridge = policy.uplinkBridge ?? '';
  try {
    const up = await findUplink(ctx, pfPci, { legacyPortNames: policy.legacyPortNames });
    if (!up.uplink)
      throw new Error(`PF ${pfPci} has no uplink representor (eswitch not in switchdev?)`);
    await deps.vswitch.ensureBridge(bridge);
    await deps.vswitch.attachPort({
      bridge,
      name: up.uplink,
      interfaceExternalIds: { [OWNER_KEY]: deps.owner, [ROLE_KEY]: 'uplink' },
      portExternalIds: { [OWNER_KEY]: deps.owner, [ROLE_KEY]: 'uplink' },
    });
    deps.logger.info({ pf: pfPci, uplink: up.uplink, bridge }, 'uplink on provider bridge');
    return { bridge, port: up.uplink, ok: true };
  } catch (err) {
    deps.logger.error({ pf: pfPci, bridge, err: errorMessage(err) }, 'uplink not attached');
    return { bridge, port: null, ok: false, error: errorMessage(err) };
  }
}
