/**
 * The offload verdict (docs/offload.md): per port, which datapath flows the NIC switches,
 * and why not when the node tells. `offload-check` and the agent's status both use it.
 */
export * from './types.js';
export {
  classifyFlow,
  ctLeg,
  flowRef,
  FlowAccumulator,
  PortTally,
  tallyFlows,
  type FlowClass,
} from './tally.js';
export { judgePorts, exitCodeOf, type JudgeOptions } from './judge.js';
export { reasonsFor, verdictOf, type PortContext } from './reasons.js';
export { parsePortTable } from './dpif-show.js';
export { parsePortsFile } from './ports-file.js';
export {
  gatherLive,
  checkLive,
  type LiveDeps,
  type LiveOvsdb,
  type LiveGathering,
} from './live.js';
export { renderReport, ctText } from './render.js';
export { renderExplain } from './explain.js';
export {
  parseVlogLine,
  classifyMessage,
  scanVswitchdLog,
  ufidsOf,
  VSWITCHD_LOG_TAIL_BYTES,
  type VlogLine,
  type Refusal,
  type RefusalCause,
  type LogScan,
} from './vswitchd-log.js';
export { readVswitchdLog, UfidWatch } from './live.js';
export {
  compareTc,
  parseTcFilters,
  readTcFilters,
  ufidCookies,
  TcParseError,
  type TcAction,
  type TcFilter,
  type TcFlowRef,
} from './tc-filters.js';
export { parseOffloadStats, statsTotal } from './offload-stats.js';
export { addNodeViews, addTcDir } from './node-views.js';
export {
  readDpdkInterfaces,
  readVswitchdDpdk,
  type DpdkInterface,
  type VswitchdDpdk,
} from './dpdk-ports.js';
export {
  dpdkReadiness,
  autoRepresentorType,
  type DpdkFinding,
  type ReadinessOptions,
} from './dpdk-readiness.js';
