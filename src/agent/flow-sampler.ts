import { errorMessage, unrefInterval, type CommandRunner, type Logger } from '../sys/index.js';
import { dumpFlows } from '../ovs/dpctl/index.js';
import { countFlow, type PortFlows } from './metrics.js';

/**
 * Periodic `ovs-appctl dpctl/dump-flows -m type=all` (with -m OVS prints `offloaded:` and
 * `dp:`, and names instead of datapath port numbers). One dump at a time: a slow dump on a
 * busy node delays the next sample instead of piling up.
 */
export class FlowSampler {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private last: { at: number; byPort: Map<string, PortFlows> } | null = null;

  constructor(
    private readonly runner: CommandRunner,
    private readonly intervalMs: number,
    private readonly onSample: (byPort: Map<string, PortFlows>) => void,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = unrefInterval(() => void this.sample(), this.intervalMs);
    void this.sample();
  }

  latest(): { at: number; byPort: Map<string, PortFlows> } | null {
    return this.last;
  }

  async sample(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      // Streamed and counted as it comes: a busy node's dump never sits in memory.
      const byPort = new Map<string, PortFlows>();
      await dumpFlows(
        this.runner,
        { flow: (f) => countFlow(byPort, f), error: () => undefined },
        {
          signal: AbortSignal.timeout(30_000),
        },
      );
      this.last = { at: Date.now(), byPort };
      this.onSample(byPort);
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, 'datapath flow sample failed');
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
