import type { PfInfo } from '../vf/index.js';

/**
 * The order in which VFs and the eswitch mode may change differs per driver, because each
 * refuses a mode change in a different state:
 *  - mlx5: VFs must exist before switchdev (representors are made for the VFs present), but
 *    older kernels/firmware refuse while a VF driver is bound: numvfs → unbind → mode → rebind.
 *  - ice: "Changing eswitch mode is allowed only if there is no VFs created":
 *    numvfs 0 → mode → numvfs N (VFs created in switchdev get their representors then).
 *  - metaScale (vendor 1f67, xsc): create VFs, then switch; no unbind needed.
 * Anything else gets the mlx5 order; when an order fails, the executor tries the other one.
 */
export type StrategyName = 'mlx5' | 'ice' | 'metascale';

export const METASCALE_VENDOR = '1f67';

export function strategyFor(pf: Pick<PfInfo, 'driver' | 'vendor'>): StrategyName {
  if (pf.driver === 'ice') return 'ice';
  if (pf.driver === 'mlx5_core') return 'mlx5';
  if (pf.vendor === METASCALE_VENDOR) return 'metascale';
  return 'mlx5';
}

/** "VFs first" ↔ "VFs after": the ordering tried when the first one fails. */
export function otherOrdering(s: StrategyName): StrategyName {
  return s === 'ice' ? 'mlx5' : 'ice';
}
