import { Agent } from '../../agent/agent.js';
import { loadAgentConfig } from '../../agent/config.js';
import { createLogger, errorMessage } from '../../sys/index.js';
import { parse, UsageError } from '../usage.js';

const USAGE = 'usage: ovs-offload agent --config FILE';

/** The node daemon: runs until SIGTERM/SIGINT, then stops cleanly and exits 0. */
export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string', short: 'c' } }, USAGE, false);
  if (!values.config) throw new UsageError(`--config is required\n${USAGE}`);
  const config = await loadAgentConfig(values.config);
  const logger = createLogger('ovs-offload-agent');
  const agent = await Agent.start(config, { logger });
  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      logger.info({ signal: sig }, 'signal received');
      agent.stop().then(resolve, (err: unknown) => {
        logger.error({ err: errorMessage(err) }, 'stop failed');
        resolve();
      });
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  return 0;
}
