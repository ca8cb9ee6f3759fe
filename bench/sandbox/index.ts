import { Sandbox, startOvs } from '../../src/sandbox/index.js';
import { percentile, round, timeMs } from '../lib/stats.js';
import type { Bench } from '../lib/types.js';

/** How long one sandbox node (netns + ovsdb-server + ovs-vswitchd) takes to start and go. */
export const bench: Bench = {
  name: 'sandbox',
  describe: 'sandbox start + stop time (netns, ovsdb-server, ovs-vswitchd)',
  async run(ctx) {
    const n = ctx.smoke ? 1 : 5;
    const start: number[] = [];
    const stop: number[] = [];
    for (let i = 0; i < n; i++) {
      let sb: Sandbox | undefined;
      start.push(
        await timeMs(async () => {
          sb = await Sandbox.create();
          await startOvs(sb);
        }),
      );
      stop.push(
        await timeMs(async () => {
          const problems = (await sb?.destroy()) ?? [];
          if (problems.length > 0) throw new Error(problems.join('; '));
        }),
      );
    }
    const startP50 = round(percentile(start, 50));
    const stopP50 = round(percentile(stop, 50));
    return {
      json: { bench: 'sandbox', n, start_p50_ms: startP50, stop_p50_ms: stopP50 },
      table: [
        ['metric', 'p50 ms', 'runs'],
        ['start (netns + ovsdb-server + ovs-vswitchd)', startP50, n],
        ['destroy (nothing left behind)', stopP50, n],
      ],
      rows: [
        {
          bench: 'sandbox',
          metric: 'start_p50_ms',
          ours: startP50,
          peer: null,
          ratio: null,
          goal: 'reported',
          pass: null,
        },
      ],
    };
  },
};
