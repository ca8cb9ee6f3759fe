import { errorMessage, type Files, type Logger } from '../sys/index.js';
import type { PoolEndpoint } from './endpoint.js';
import { kubeletPaths, type KubeletPaths } from './registration.js';
import { WatchLoop } from './watch-loop.js';

/**
 * Notices a kubelet restart. A restarting kubelet deletes every socket in device-plugins/ and
 * re-creates kubelet.sock; either sign makes the affected pools serve and register again.
 * inotify on the directories brings the check forward; a 500 ms poll keeps it within 5 s
 * even where events are lost.
 */
export class KubeletWatch {
  private readonly paths: KubeletPaths;
  private readonly loop: WatchLoop;
  private kubeletId: string | null = null;
  private registry = false;

  constructor(
    private readonly opts: {
      kubeletDir: string;
      files: Files;
      logger: Logger;
      endpoints: () => readonly PoolEndpoint[];
      intervalMs?: number;
    },
  ) {
    this.paths = kubeletPaths(opts.kubeletDir);
    this.loop = new WatchLoop({
      step: () => this.run(),
      onError: (err) => opts.logger.warn({ err: errorMessage(err) }, 'kubelet watch check failed'),
      intervalMs: opts.intervalMs ?? 500,
      hintDelayMs: 50,
      files: opts.files,
    });
  }

  /** Records the kubelet as it is now (before the endpoints first register). */
  async init(): Promise<void> {
    this.kubeletId = await this.opts.files.identity(this.paths.kubeletSocket);
    this.registry = await this.opts.files.isDirectory(this.paths.registryDir);
  }

  start(): void {
    this.loop.start();
    this.loop.watch([this.opts.kubeletDir, this.paths.devicePluginsDir, this.paths.registryDir]);
  }

  check(): void {
    this.loop.trigger();
  }

  private async run(): Promise<void> {
    const { files, logger } = this.opts;
    const endpoints = this.opts.endpoints();
    const id = await files.identity(this.paths.kubeletSocket);
    const registry = await files.isDirectory(this.paths.registryDir);
    if (registry !== this.registry) {
      this.registry = registry;
      this.kubeletId = id;
      logger.info({ pluginsRegistry: registry }, 'kubelet registration mode changed');
      for (const ep of endpoints) void ep.restart('kubelet registration mode changed');
      return;
    }
    if (id !== this.kubeletId) {
      this.kubeletId = id;
      if (id !== null) {
        logger.info({ socket: this.paths.kubeletSocket }, 'kubelet socket re-created');
        for (const ep of endpoints) void ep.kubeletRestarted();
        return;
      }
    }
    for (const ep of endpoints) {
      if (!ep.busy && !(await ep.socketsPresent())) void ep.restart('plugin socket deleted');
    }
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
