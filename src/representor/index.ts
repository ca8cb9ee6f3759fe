export { getEswitchMode, readEswitch, setEswitchMode } from './eswitch.js';
export { findUplink, findVfRepresentor, mapRepresentors, type UplinkInfo } from './mapping.js';
export { strategyFor, otherOrdering, METASCALE_VENDOR, type StrategyName } from './strategy.js';
export {
  planEswitch,
  describeStep,
  type EswitchPolicy,
  type PlanStep,
  type PlanOptions,
} from './plan.js';
export { executePlan, type ExecuteOptions, type ExecuteResult } from './execute.js';
export {
  ensureHwTcOffload,
  disableHwTcOffload,
  parseHwTcOffload,
  type TcOffloadResult,
} from './tc-offload.js';
export {
  planNicPolicies,
  applyPlannedNics,
  type NicPolicyInput,
  type PlannedNic,
} from './apply.js';
export {
  parseDpdkDevargs,
  parseRepresentorValue,
  dpdkRepresentedVf,
  type DpdkDevargs,
} from './dpdk-devargs.js';
export { describeDpdkPf, isBifurcated } from './dpdk-plan.js';
