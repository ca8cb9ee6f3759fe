import { describe, expect, it } from 'vitest';
import { AgentMetrics } from '../../../src/agent/metrics.js';

describe('ovs_offload_memory_bytes', () => {
  it("reports the agent's resident set and V8 heap when scraped", async () => {
    const m = new AgentMetrics({
      attachments: () => [],
      pendingUndos: () => 0,
      pools: () => [],
      eswitchModes: () => [],
    });
    const text = await m.registry.metrics();
    for (const kind of ['rss', 'heap_used', 'heap_total', 'external']) {
      const v = new RegExp(`^ovs_offload_memory_bytes\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(text);
      expect(v, kind).not.toBeNull();
      expect(Number(v![1]), kind).toBeGreaterThan(0);
    }
  });
});
