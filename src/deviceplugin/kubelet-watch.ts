import {
  errorMessage,
  unrefInterval,
  unrefTimeout,
  type Files,
  type Logger,
  type Watcher,
} from '../sys/index.js';
import type { PoolEndpoint } from './endpoint.js';
import { kubeletPaths, type KubeletPaths } from './registration.js';

/**
 * Notices a kubelet restart. A restarting kubelet deletes every socket in device-plugins/ and
 * re-creates kubelet.sock; either sign makes the affected pools serve and register again.
 * inotify on the directories brings the check forward; a 500 ms poll keeps it within 5 s
 * even where events are lost.
 */
export class KubeletWatch {
  private readonly paths: KubeletPaths;
  private kubeletId: string | null = null;
  private registry = false;
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private watchers: Watcher[] = [];
  private checking: Promise<void> | undefined;
  private again = false;
  private stopped = false;

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
  }

  /** Records the kubelet as it is now (before the endpoints first register). */
  async init(): Promise<void> {
    this.kubeletId = await this.opts.files.identity(this.paths.kubeletSocket);
    this.registry = await this.opts.files.isDirectory(this.paths.registryDir);
  }

  start(): void {
    this.stopped = false;
    this.timer = unrefInterval(() => this.check(), this.opts.intervalMs ?? 500);
    for (const dir of [this.opts.kubeletDir, this.paths.devicePluginsDir, this.paths.registryDir]) {
      try {
        this.watchers.push(this.opts.files.watch(dir, () => this.checkSoon()));
      } catch {
        // Not there (yet): the poll covers it.
      }
    }
  }

  private checkSoon(): void {
    if (this.soon || this.stopped) return;
    this.soon = unrefTimeout(() => {
      this.soon = undefined;
      this.check();
    }, 50);
  }

  check(): void {
    if (this.stopped) return;
    if (this.checking) {
      this.again = true;
      return;
    }
    this.checking = this.run()
      .catch((err: unknown) =>
        this.opts.logger.warn({ err: errorMessage(err) }, 'kubelet watch check failed'),
      )
      .finally(() => {
        this.checking = undefined;
        if (this.again) {
          this.again = false;
          this.check();
        }
      });
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
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    this.timer = undefined;
    this.soon = undefined;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    while (this.checking) await this.checking;
  }
}
