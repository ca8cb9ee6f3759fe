/**
 * Parser for `ovs-appctl dpctl/dump-flows` output: every form OVS and vendor builds print.
 * JSON contract: DESIGN.md §3.3.
 */
export * from './types.js';
export { parseFlowLine, isFlowLineError } from './line.js';
export { parseAction, parseUsed } from './fields.js';
export { parseCounter, counterToBigInt, counterFromBigInt, CounterSum } from './counter.js';
export { SummaryAccumulator } from './summary.js';
export { outputPorts, flowTouchesPort, portNumber } from './ports.js';
export {
  LineSplitter,
  DumpParser,
  parseDump,
  parseDumpText,
  type DumpSink,
  type DumpOptions,
} from './stream.js';
export { dumpFlows, dumpFlowsArgv, type DumpFlowsOptions } from './dump.js';
