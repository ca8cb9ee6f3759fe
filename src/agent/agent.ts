import { OvsdbClient } from '../ovs/ovsdb/index.js';
import { Vswitch } from '../ovs/vswitch.js';
import {
  createLogger,
  errorMessage,
  ExecaRunner,
  files,
  Ip,
  SysFs,
  type CommandRunner,
  type Logger,
} from '../sys/index.js';
import { DevicePluginManager, loadDevicePluginSettings } from '../deviceplugin/index.js';
import { checkLive, type OffloadReport } from '../offload/index.js';
import type { NicContext } from '../vf/index.js';
import { AttachmentService } from './attach/service.js';
import { FlowSampler } from './flow-sampler.js';
import { KubeOvnIpSource, kubernetesPodApi } from './kubeovn.js';
import { AgentMetrics } from './metrics.js';
import { MetricsServer } from './metrics-server.js';
import { reconcileNics, type PfPolicyStatus } from './nic-reconcile.js';
import { netnsExists } from './podnet.js';
import type { IpSource } from './attach/add.js';
import type { AgentConfig } from './config.js';
import { CniServer } from './cni-server.js';
import { NicCache } from './nic-cache.js';
import { StateStore } from './state.js';

export interface AgentOptions {
  logger?: Logger;
  runner?: CommandRunner;
  ipSource?: IpSource;
  /** How long to wait for in-flight CNI requests on stop. */
  stopGraceMs?: number;
  /** Aborts start-up between steps (SIGTERM while the NIC is being brought up). */
  signal?: AbortSignal;
}

/**
 * The node agent: one OVSDB connection, the NIC cache, the attachment service behind the
 * CNI server. Start-up order: state dir, OVSDB (retrying), bridge and other_config, NICs,
 * reconcile of attachments left from before, then the CNI socket opens.
 */
export class Agent {
  private cniServer: CniServer | null = null;
  private metricsServer: MetricsServer | null = null;
  sampler: FlowSampler | null = null;
  private stopping: Promise<void> | null = null;

  private constructor(
    readonly config: AgentConfig,
    readonly logger: Logger,
    readonly client: OvsdbClient,
    readonly vswitch: Vswitch,
    readonly nics: NicCache,
    readonly attachments: AttachmentService,
    private readonly opts: AgentOptions,
    readonly nicStatus: PfPolicyStatus[],
    readonly devicePlugin: DevicePluginManager | null,
    readonly metrics: AgentMetrics,
    private readonly runner: CommandRunner,
    private readonly nicCtx: NicContext,
  ) {}

  static async start(config: AgentConfig, opts: AgentOptions = {}): Promise<Agent> {
    const logger = opts.logger ?? createLogger('ovs-offload-agent');
    const runner = opts.runner ?? new ExecaRunner();
    const sysfs = new SysFs(config.sysfsRoot);
    const ip = new Ip(runner);
    const signal = opts.signal;
    // What start-up has opened so far, closed newest first if a later step fails (or a
    // signal asks us to stop): a half-started agent must not keep serving or block exit.
    const opened: { what: string; close: () => Promise<unknown> }[] = [];
    const checkpoint = () => signal?.throwIfAborted();
    try {
      const store = new StateStore(config.stateDir, logger);
      await store.init();
      const client = new OvsdbClient(config.ovs.db, {
        logger: logger.child({ component: 'ovsdb' }),
      });
      opened.push({ what: 'OVSDB client', close: () => client.close() });
      for (let attempt = 1; ; attempt++) {
        checkpoint();
        try {
          await client.waitConnected(5_000);
          break;
        } catch (err) {
          logger.warn({ db: config.ovs.db, attempt, err: errorMessage(err) }, 'waiting for OVSDB');
        }
      }
      const vswitch = new Vswitch(client, {
        owner: config.nodeName,
        logger: logger.child({ component: 'vswitch' }),
      });
      opened.push({ what: 'vswitch monitor', close: () => vswitch.close() });
      const ids = await vswitch.getExternalIds();
      // OVN's own convention tells which datapath br-int belongs on (netdev for OVS-DPDK).
      const datapathType = ids['ovn-bridge-datapath-type'];
      await vswitch.ensureBridge(config.ovs.bridge, datapathType ? { datapathType } : {});
      await applyOffloadConfig(vswitch, config, logger);
      checkpoint();

      const ipSource =
        opts.ipSource ??
        (config.kubernetes
          ? new KubeOvnIpSource(
              kubernetesPodApi(config.kubernetes.kubeconfig),
              config.kubernetes.annotationWaitMs,
              logger.child({ component: 'kube-ovn' }),
            )
          : undefined);
      const nicCtx = { sysfs, runner, logger: logger.child({ component: 'nic' }) };
      const inUse = new Set<string>();
      for (const st of await store.list()) {
        if (st.addCompleted && (await netnsExists(st.netns))) inUse.add(st.vf.pci);
      }
      const nicStatus = await reconcileNics(nicCtx, config.nics, {
        vswitch,
        owner: config.nodeName,
        logger: nicCtx.logger,
        vfsInUse: inUse,
        ...(signal ? { signal } : {}),
      });
      checkpoint();
      const nics = new NicCache(nicCtx, config.nics, nicCtx.logger);
      await nics.refresh();
      const attachments = new AttachmentService({
        config,
        vswitch,
        nics,
        ip,
        runner,
        store,
        logger: logger.child({ component: 'cni' }),
        ...(ipSource ? { ipSource } : {}),
        ovsdbReady: () => client.isConnected,
      });
      const rec = await attachments.reconcile();
      logger.info(rec, 'attachments reconciled');
      checkpoint();
      const devicePlugin = config.devicePlugin
        ? await startDevicePlugin(config, sysfs, runner, logger)
        : null;
      if (devicePlugin) opened.push({ what: 'device plugin', close: () => devicePlugin.stop() });
      const metrics = new AgentMetrics({
        attachments: () => attachments.attachments(),
        pools: () => devicePlugin?.pools() ?? [],
        eswitchModes: () =>
          nics.managed().map((pf) => ({ pf, mode: nics.pf(pf)?.eswitchMode ?? null })),
      });
      const agent = new Agent(
        config,
        logger,
        client,
        vswitch,
        nics,
        attachments,
        opts,
        nicStatus,
        devicePlugin,
        metrics,
        runner,
        nicCtx,
      );
      const sampler = new FlowSampler(
        runner,
        config.metrics.flowSampleIntervalMs,
        (byPort) =>
          metrics.setFlowSample(
            byPort,
            attachments.attachments().flatMap((a) => (a.representor ? [a.representor] : [])),
          ),
        logger.child({ component: 'flows' }),
      );
      agent.sampler = sampler;
      opened.push({ what: 'flow sampler', close: async () => sampler.stop() });
      sampler.start();
      const cniServer = new CniServer(
        config.cni.socket,
        {
          add: (r) => attachments.add(r),
          del: (r) => attachments.del(r),
          check: (r) => attachments.check(r),
          gc: (r) => attachments.gc(r),
          status: () => attachments.status(),
          state: () => agent.status(),
        },
        logger.child({ component: 'cni-server' }),
        (op, outcome, seconds, code) => metrics.observeCni(op, outcome, seconds, code),
      );
      agent.cniServer = cniServer;
      await cniServer.start();
      opened.push({ what: 'CNI server', close: () => cniServer.stop(0) });
      if (config.metrics.listen !== null) {
        const metricsServer = new MetricsServer(
          config.metrics.listen,
          metrics,
          () => agent.status(),
          () => client.isConnected,
          logger.child({ component: 'metrics' }),
        );
        agent.metricsServer = metricsServer;
        await metricsServer.start();
      }
      checkpoint();
      logger.info(
        { node: config.nodeName, bridge: config.ovs.bridge, pfs: nics.managed() },
        'agent ready',
      );
      return agent;
    } catch (err) {
      for (const o of opened.reverse()) {
        await o
          .close()
          .catch((e: unknown) =>
            logger.warn({ what: o.what, err: errorMessage(e) }, 'close after failed start'),
          );
      }
      throw err;
    }
  }

  private offloadCache: { at: number; report: Promise<OffloadReport | null> } | null = null;

  /**
   * The offload verdict of every port, from one live dump-flows; cached for 10 s so that
   * status polling cannot turn into a dump loop on a node with many flows.
   */
  private offloadReport(): Promise<OffloadReport | null> {
    const now = Date.now();
    if (this.offloadCache && now - this.offloadCache.at < 10_000) return this.offloadCache.report;
    const report = checkLive({
      runner: this.runner,
      vswitch: this.vswitch,
      nicCtx: this.nicCtx,
      timeoutMs: 10_000,
      logger: this.logger,
    }).catch((err: unknown) => {
      this.logger.warn({ err: errorMessage(err) }, 'offload verdict unavailable');
      return null;
    });
    this.offloadCache = { at: now, report };
    return report;
  }

  /** The node status document (GET /api/v1/state and /status). */
  async status(): Promise<unknown> {
    const report = await this.offloadReport();
    const byPort = new Map((report?.ports ?? []).map((p) => [p.port, p]));
    return {
      node: this.config.nodeName,
      ovsdb: { endpoint: this.config.ovs.db, connected: this.client.isConnected },
      bridge: this.config.ovs.bridge,
      pfs: this.nics.managed().map((pci) => {
        const pf = this.nics.pf(pci);
        return {
          pci,
          netdev: pf?.netdev ?? null,
          eswitchMode: pf?.eswitchMode ?? null,
          numVfs: pf?.numVfs ?? null,
          vfs: (pf?.vfs ?? []).map((v) => ({
            index: v.index,
            pci: v.pci,
            driver: v.driver,
            representor: v.representor,
          })),
        };
      }),
      nicPolicies: this.nicStatus,
      devicePlugin: this.devicePlugin?.pools() ?? null,
      attachments: this.attachments.attachments().map((s) => {
        const port = s.representor ? byPort.get(s.representor) : undefined;
        return {
          containerID: s.containerID,
          ifName: s.ifName,
          pod: `${s.pod.namespace}/${s.pod.name}`,
          mode: s.mode,
          vf: s.vf.pci,
          representor: s.representor,
          bridge: s.bridge,
          ifaceId: s.ifaceId,
          netns: s.netns,
          addCompleted: s.addCompleted,
          offload: port
            ? {
                verdict: port.verdict,
                offloadedFlows: port.flows.offloaded.flows,
                softwareFlows: port.flows.software.flows,
                reasons: port.reasons.map((r) => r.code),
              }
            : null,
        };
      }),
    };
  }

  /** Stops accepting, lets in-flight requests finish (bounded), closes everything. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.info('agent stopping');
      await this.cniServer?.stop(this.opts.stopGraceMs ?? 30_000);
      this.sampler?.stop();
      await this.metricsServer?.stop();
      await this.devicePlugin
        ?.stop()
        .catch((err: unknown) =>
          this.logger.warn({ err: errorMessage(err) }, 'device plugin stop'),
        );
      await this.vswitch.close().catch(() => undefined);
      await this.client.close().catch(() => undefined);
      this.logger.info('agent stopped');
    })();
    return this.stopping;
  }
}

async function startDevicePlugin(
  config: AgentConfig,
  sysfs: SysFs,
  runner: CommandRunner,
  logger: Logger,
): Promise<DevicePluginManager | null> {
  const section = config.devicePlugin;
  if (!section) return null;
  const settings = await loadDevicePluginSettings(section, files);
  const log = logger.child({ component: 'device-plugin' });
  for (const w of settings.warnings) log.warn(w);
  const manager = new DevicePluginManager({ ...settings, sysfs, runner, logger: log });
  await manager.start();
  return manager;
}

async function applyOffloadConfig(
  vswitch: Vswitch,
  config: AgentConfig,
  logger: Logger,
): Promise<void> {
  const want: Record<string, string> = {};
  if (config.ovs.hwOffload !== undefined) want['hw-offload'] = String(config.ovs.hwOffload);
  if (config.ovs.tcPolicy !== undefined) want['tc-policy'] = config.ovs.tcPolicy;
  if (Object.keys(want).length === 0) return;
  if (await vswitch.setOtherConfig(want)) {
    logger.warn(
      { other_config: want },
      'other_config changed: ovs-vswitchd reads hw-offload and tc-policy only at start; restart it (systemctl restart openvswitch-switch) for them to take effect',
    );
  }
}
