import { CounterSum } from './counter.js';
import type { DpFlow, FlowSummary } from './types.js';

/** The §3.3 `summary`, accumulated flow by flow in O(1) memory. */
export class SummaryAccumulator {
  private flows = 0;
  private offloaded = 0;
  private readonly packets = new CounterSum();
  private readonly bytes = new CounterSum();

  add(flow: DpFlow): void {
    this.flows++;
    if (flow.offloaded !== null) this.offloaded++;
    this.packets.add(flow.packets);
    this.bytes.add(flow.bytes);
  }

  get(): FlowSummary {
    return {
      flows: this.flows,
      packets: this.packets.value,
      bytes: this.bytes.value,
      offloaded: this.offloaded,
    };
  }
}
