/**
 * The offload verdict (docs/offload.md): per port, which datapath flows the NIC switches,
 * and why not when the node tells. `offload-check` and the agent's status both use it.
 */
export * from './types.js';
export { classifyFlow, FlowAccumulator, PortTally, tallyFlows, type FlowClass } from './tally.js';
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
export { renderReport } from './render.js';
