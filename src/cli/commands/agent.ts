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
  // Signals are ours from the start: a SIGTERM while the NIC is being brought up lets the
  // step under way finish (a PF half-way through unbind/switchdev/rebind would be left
  // without drivers) and then stops, instead of killing the process mid-plan.
  const stopping = new AbortController();
  let onStop: () => void = () => undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    logger.info({ signal: sig }, 'signal received');
    stopping.abort(new Error(`${sig} during start-up`));
    onStop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let agent: Agent;
  try {
    agent = await Agent.start(config, { logger, signal: stopping.signal });
  } catch (err) {
    if (stopping.signal.aborted) {
      logger.info('stopped during start-up');
      return 0;
    }
    throw err;
  }
  await new Promise<void>((resolve) => {
    onStop = resolve;
    if (stopping.signal.aborted) resolve();
  });
  await agent
    .stop()
    .catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'stop failed'));
  return 0;
}
