import { loadAgentConfig } from '../../agent/config.js';
import { DevicePluginManager, loadDevicePluginSettings } from '../../deviceplugin/index.js';
import {
  createLogger,
  errorMessage,
  ExecaRunner,
  files,
  InvalidInputError,
  SysFs,
} from '../../sys/index.js';
import { parse, UsageError } from '../usage.js';

const USAGE = `usage: ovs-offload device-plugin --config FILE

  Only the kubelet device plugin, for clusters that want just this part. FILE is the agent
  config; its sysfsRoot and devicePlugin sections are used. Runs until SIGTERM/SIGINT.`;

/** The device plugin alone: runs until SIGTERM/SIGINT, then stops cleanly and exits 0. */
export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string', short: 'c' } }, USAGE, false);
  if (!values.config) throw new UsageError(`--config is required\n${USAGE}`);
  const config = await loadAgentConfig(values.config);
  if (!config.devicePlugin) {
    throw new InvalidInputError(values.config, 'devicePlugin: missing (nothing to serve)');
  }
  const settings = await loadDevicePluginSettings(config.devicePlugin, files);
  const logger = createLogger('ovs-offload-device-plugin');
  for (const w of settings.warnings) logger.warn({ config: values.config }, w);
  const manager = new DevicePluginManager({
    ...settings,
    sysfs: new SysFs(config.sysfsRoot),
    runner: new ExecaRunner(),
    logger,
  });
  // Every timer of the plugin is unref'd and its sockets come and go on kubelet restarts:
  // this handle is what keeps the daemon alive until a signal.
  const alive = setInterval(() => undefined, 1 << 30);
  try {
    await manager.start();
    await new Promise<void>((resolve) => {
      const onSignal = (sig: NodeJS.Signals) => {
        logger.info({ signal: sig }, 'signal received');
        resolve();
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    });
    await manager.stop().catch((err: unknown) => {
      logger.error({ err: errorMessage(err) }, 'stop failed');
    });
  } finally {
    clearInterval(alive);
  }
  return 0;
}
