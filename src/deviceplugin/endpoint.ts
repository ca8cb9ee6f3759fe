import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  Backoff,
  errorMessage,
  OvsOffloadError,
  unrefTimeout,
  type BackoffOptions,
  type Files,
  type Logger,
} from '../sys/index.js';
import { unixTarget } from './grpc-client.js';
import type { Pool } from './pool.js';
import { kubeletApis } from './proto.js';
import {
  kubeletPaths,
  pluginInfo,
  pluginRegistrationService,
  registerWithKubelet,
  socketName,
  type KubeletPaths,
  type RegistrationMode,
} from './registration.js';
import { devicePluginService } from './service.js';

export interface EndpointOptions {
  kubeletDir: string;
  files: Files;
  logger: Logger;
  /** Deadline of one Register call (default 5 s). */
  registerTimeoutMs?: number;
  /** Retry pacing after a refused or failed registration. */
  backoff?: BackoffOptions;
}

export interface EndpointStatus {
  socket: string;
  registration: RegistrationMode | null;
  registered: boolean;
  restarts: number;
}

function bind(server: grpc.Server, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.bindAsync(unixTarget(socketPath), grpc.ServerCredentials.createInsecure(), (err) => {
      if (err) {
        reject(new OvsOffloadError(`listen on ${socketPath}: ${err.message}`, { cause: err }));
      } else {
        resolve();
      }
    });
  });
}

/**
 * One pool's gRPC server on `<kubeletDir>/device-plugins/<prefix>_<name>.sock` and its
 * registration with the kubelet. Lifecycle steps run one at a time; a generation number
 * makes retries scheduled for an older server harmless.
 */
export class PoolEndpoint {
  readonly socketPath: string;
  readonly registrySocketPath: string;
  private readonly paths: KubeletPaths;
  private server: grpc.Server | undefined;
  private mode: RegistrationMode | null = null;
  private registered = false;
  private generation = 0;
  private restarts = 0;
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  private retry: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private stopped = false;

  constructor(
    private readonly pool: Pool,
    private readonly opts: EndpointOptions,
  ) {
    this.paths = kubeletPaths(opts.kubeletDir);
    const name = socketName(pool.fullName);
    this.socketPath = path.join(this.paths.devicePluginsDir, name);
    this.registrySocketPath = path.join(this.paths.registryDir, name);
    this.backoff = new Backoff({ initialMs: 500, maxMs: 30_000, ...opts.backoff });
  }

  /** A lifecycle step is queued or running (the kubelet watch leaves us alone meanwhile). */
  get busy(): boolean {
    return this.pending > 0;
  }

  status(): EndpointStatus {
    return {
      socket: this.socketPath,
      registration: this.mode,
      registered: this.registered,
      restarts: this.restarts,
    };
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    this.pending++;
    const run = this.queue.then(step).finally(() => {
      this.pending--;
    });
    this.queue = run.catch((err: unknown) => {
      this.opts.logger.error(
        { resource: this.pool.fullName, err: errorMessage(err) },
        'device plugin endpoint step failed',
      );
    });
    return run;
  }

  start(): Promise<void> {
    this.stopped = false;
    return this.enqueue(() => this.doStart());
  }

  /**
   * Tear down and come back (kubelet restarted, or it refused our registration). Never
   * rejects: callers fire and forget, and a failure is logged and retried here.
   */
  restart(reason: string): Promise<void> {
    return this.enqueue(async () => {
      if (this.stopped) return;
      this.opts.logger.warn({ resource: this.pool.fullName, reason }, 'restarting device plugin');
      this.restarts++;
      await this.doStop();
      try {
        await this.doStart();
      } catch (err) {
        // Not serving now (a socket we cannot bind yet, a directory being re-created):
        // nothing else would bring us back, so try again later.
        await this.doStop().catch(() => undefined);
        const delay = this.backoff.next();
        this.opts.logger.error(
          { resource: this.pool.fullName, err: errorMessage(err), retryInMs: delay },
          'device plugin restart failed',
        );
        this.clearRetry();
        this.retry = unrefTimeout(() => {
          this.retry = undefined;
          void this.restart('retry after a failed restart');
        }, delay);
      }
    }).catch(() => undefined);
  }

  /**
   * kubelet.sock was re-created: a new kubelet knows nothing of us, and on start it wipes
   * device-plugins/ (our socket included), so serve afresh rather than only re-register.
   */
  kubeletRestarted(): Promise<void> {
    this.backoff.reset();
    return this.restart('kubelet restarted');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.enqueue(() => this.doStop());
  }

  /** Our sockets are still where the kubelet looks (a restarting kubelet deletes them). */
  async socketsPresent(): Promise<boolean> {
    if (!this.server) return true;
    if (!(await this.opts.files.isSocket(this.socketPath))) return false;
    if (this.mode === 'plugin-watcher') return this.opts.files.isSocket(this.registrySocketPath);
    return true;
  }

  private async doStart(): Promise<void> {
    const gen = ++this.generation;
    const { files } = this.opts;
    this.mode = (await files.isDirectory(this.paths.registryDir))
      ? 'plugin-watcher'
      : 'kubelet-register';
    this.registered = false;
    const apis = kubeletApis();
    const server = new grpc.Server();
    server.addService(apis.devicePlugin.service, devicePluginService(this.pool, this.opts.logger));
    if (this.mode === 'plugin-watcher') {
      server.addService(
        apis.pluginRegistration.service,
        pluginRegistrationService(
          () => pluginInfo(this.pool.fullName, this.socketPath),
          (st) => this.onRegistrationStatus(gen, st.plugin_registered, st.error),
        ),
      );
    }
    this.server = server;
    await files.mkdir(this.paths.devicePluginsDir);
    await files.rm(this.socketPath);
    await bind(server, this.socketPath);
    if (this.mode === 'plugin-watcher') {
      // Last: the kubelet's watcher acts as soon as this socket appears.
      await files.rm(this.registrySocketPath);
      await bind(server, this.registrySocketPath);
      this.opts.logger.info(
        {
          resource: this.pool.fullName,
          socket: this.socketPath,
          registry: this.registrySocketPath,
        },
        'device plugin serving; waiting for the kubelet plugin watcher',
      );
    } else {
      this.opts.logger.info(
        { resource: this.pool.fullName, socket: this.socketPath },
        'device plugin serving; registering with the kubelet',
      );
      await this.register(gen);
    }
  }

  private async register(gen: number): Promise<void> {
    if (gen !== this.generation || this.stopped) return;
    this.clearRetry();
    try {
      await registerWithKubelet(
        this.paths.kubeletSocket,
        path.basename(this.socketPath),
        this.pool.fullName,
        this.opts.registerTimeoutMs ?? 5000,
      );
      if (gen !== this.generation) return;
      this.registered = true;
      this.backoff.reset();
      this.opts.logger.info({ resource: this.pool.fullName }, 'registered with the kubelet');
    } catch (err) {
      if (gen !== this.generation) return;
      this.registered = false;
      const delay = this.backoff.next();
      this.opts.logger.warn(
        { resource: this.pool.fullName, err: errorMessage(err), retryInMs: delay },
        'kubelet registration failed',
      );
      this.retry = unrefTimeout(() => {
        this.retry = undefined;
        this.enqueue(() => this.register(gen)).catch(() => undefined);
      }, delay);
    }
  }

  private onRegistrationStatus(gen: number, ok: boolean, error: string): void {
    if (gen !== this.generation || this.stopped) return;
    if (ok) {
      this.registered = true;
      this.backoff.reset();
      this.opts.logger.info({ resource: this.pool.fullName }, 'registered with the kubelet');
      return;
    }
    // The kubelet refused us (a name clash with a plugin still going away, a version it
    // does not speak yet): start over later rather than give up.
    this.registered = false;
    const delay = this.backoff.next();
    this.opts.logger.warn(
      { resource: this.pool.fullName, error, retryInMs: delay },
      'kubelet refused the registration',
    );
    this.clearRetry();
    this.retry = unrefTimeout(() => {
      this.retry = undefined;
      if (gen === this.generation) void this.restart('registration refused');
    }, delay);
  }

  private clearRetry(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
  }

  private async doStop(): Promise<void> {
    this.generation++;
    this.clearRetry();
    this.registered = false;
    this.pool.closeStreams();
    const server = this.server;
    this.server = undefined;
    server?.forceShutdown();
    // Best effort: the kubelet may have removed them, or its directory, already.
    const sockets = [this.socketPath];
    if (this.mode === 'plugin-watcher') sockets.push(this.registrySocketPath);
    for (const s of sockets) await this.opts.files.rm(s).catch(() => undefined);
  }
}
