import {
  errorMessage,
  files as defaultFiles,
  silentLogger,
  type BackoffOptions,
  type CommandRunner,
  type Files,
  type Logger,
  type SysFs,
} from '../sys/index.js';
import { KubeletCheckpoint } from './checkpoint.js';
import type { ResourceConfig } from './config.js';
import { PoolEndpoint } from './endpoint.js';
import type { DpdkLinkSource } from './dpdk-uplink.js';
import { SysfsSnapshotSource, type SnapshotSource } from './inventory.js';
import { KubeletWatch } from './kubelet-watch.js';
import type { NodeSnapshot, PfState } from './model.js';
import { NodeMonitor } from './monitor.js';
import { Pool } from './pool.js';
import { assignPools } from './pools.js';
import type { RegistrationMode } from './registration.js';

export interface DevicePluginManagerOptions {
  /** Parsed pools (config.ts / settings.ts). */
  resources: readonly ResourceConfig[];
  kubeletDir: string;
  /** Multus device-info directory (`/var/run/k8s.cni.cncf.io/devinfo/dp`). */
  devinfoDir: string;
  sysfs: SysFs;
  /** Runs devlink (put stand-ins first on its PATH in tests). */
  runner: CommandRunner;
  logger?: Logger;
  files?: Files;
  /** The OVS DPDK ports, for the link of PFs on a user-space driver (docs/deviceplugin.md). */
  dpdkLinks?: DpdkLinkSource;
  /** Replaces the sysfs-backed device source (unit tests). */
  source?: SnapshotSource;
  /** Live NIC state re-read period (default 250 ms). */
  pollIntervalMs?: number;
  /** Full NIC inventory period (default 5 min). */
  fullEveryMs?: number;
  /** kubelet restart check period (default 500 ms). */
  kubeletPollMs?: number;
  registerTimeoutMs?: number;
  registrationBackoff?: BackoffOptions;
}

/** One pool as metrics and status show it. */
export interface PoolStatus {
  resourceName: string;
  socket: string;
  registration: RegistrationMode | null;
  registered: boolean;
  restarts: number;
  total: number;
  allocated: number;
  unhealthy: number;
}

export interface AllocatedDevice {
  resourceName: string;
  pci: string;
  pfPci: string;
  vfIndex: number;
  representor: string | null;
}

/**
 * The device plugin: one gRPC server per configured pool, fed by one NIC monitor. The agent
 * embeds it; `ovs-offload device-plugin` runs it alone.
 */
export class DevicePluginManager {
  private readonly logger: Logger;
  private readonly files: Files;
  private readonly monitor: NodeMonitor;
  private readonly pools_: Pool[];
  private readonly endpoints: PoolEndpoint[];
  private readonly watch: KubeletWatch;
  private readonly checkpoint: KubeletCheckpoint;
  private unsubscribe: (() => void) | undefined;
  private started = false;

  constructor(private readonly opts: DevicePluginManagerOptions) {
    this.logger = opts.logger ?? silentLogger();
    this.files = opts.files ?? defaultFiles;
    const source =
      opts.source ??
      new SysfsSnapshotSource(
        { sysfs: opts.sysfs, runner: opts.runner, logger: this.logger },
        opts.dpdkLinks,
      );
    this.monitor = new NodeMonitor(source, {
      files: this.files,
      logger: this.logger,
      ...(opts.pollIntervalMs === undefined ? {} : { intervalMs: opts.pollIntervalMs }),
      ...(opts.fullEveryMs === undefined ? {} : { fullEveryMs: opts.fullEveryMs }),
    });
    this.pools_ = opts.resources.map(
      (r) => new Pool(r, { devinfoDir: opts.devinfoDir, files: this.files, logger: this.logger }),
    );
    this.endpoints = this.pools_.map(
      (p) =>
        new PoolEndpoint(p, {
          kubeletDir: opts.kubeletDir,
          files: this.files,
          logger: this.logger,
          ...(opts.registerTimeoutMs === undefined
            ? {}
            : { registerTimeoutMs: opts.registerTimeoutMs }),
          ...(opts.registrationBackoff === undefined ? {} : { backoff: opts.registrationBackoff }),
        }),
    );
    this.watch = new KubeletWatch({
      kubeletDir: opts.kubeletDir,
      files: this.files,
      logger: this.logger,
      endpoints: () => this.endpoints,
      ...(opts.kubeletPollMs === undefined ? {} : { intervalMs: opts.kubeletPollMs }),
    });
    this.checkpoint = new KubeletCheckpoint({
      files: this.files,
      kubeletDir: opts.kubeletDir,
      logger: this.logger,
    });
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    try {
      await this.monitor.start();
      this.apply(this.monitor.snapshot());
      const inUse = await this.checkpoint.read();
      for (const p of this.pools_) p.markAllocated(inUse.get(p.fullName) ?? []);
      this.unsubscribe = this.monitor.subscribe((snap) => this.apply(snap));
      await this.watch.init();
      await Promise.all(this.endpoints.map((e) => e.start()));
      this.watch.start();
      this.logger.info(
        { pools: this.pools().map((p) => ({ resource: p.resourceName, devices: p.total })) },
        'device plugin started',
      );
    } catch (err) {
      await this.stop().catch(() => undefined);
      throw err;
    }
  }

  private apply(snap: NodeSnapshot): void {
    const pfs = new Map<string, PfState>(snap.pfs.map((p) => [p.pci, p]));
    const assigned = assignPools(snap.devices, this.opts.resources);
    for (const p of this.pools_) p.update(assigned.get(p.fullName) ?? [], pfs);
  }

  /** Re-reads the NIC now and waits for it (tests, and callers that just changed the NIC). */
  async refresh(full = false): Promise<void> {
    if (full) this.monitor.poke(true);
    await this.monitor.settle();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.watch.stop();
    await this.monitor.stop();
    for (const e of this.endpoints) {
      await e
        .stop()
        .catch((err: unknown) =>
          this.logger.warn({ err: errorMessage(err) }, 'stopping a device plugin endpoint'),
        );
    }
    for (const p of this.pools_) await p.cleanDevinfo();
    this.logger.info('device plugin stopped');
  }

  pools(): PoolStatus[] {
    return this.pools_.map((p, i) => {
      const ep = this.endpoints[i]?.status();
      return {
        resourceName: p.fullName,
        socket: ep?.socket ?? '',
        registration: ep?.registration ?? null,
        registered: ep?.registered ?? false,
        restarts: ep?.restarts ?? 0,
        ...p.counts(),
      };
    });
  }

  allocatedDevices(): AllocatedDevice[] {
    return this.pools_.flatMap((p) =>
      p.allocatedDevices().map((d) => ({
        resourceName: p.fullName,
        pci: d.pci,
        pfPci: d.pfPci,
        vfIndex: d.vfIndex,
        representor: d.representor,
      })),
    );
  }
}
