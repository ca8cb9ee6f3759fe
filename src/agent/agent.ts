import { DevicePluginManager, loadDevicePluginSettings } from '../deviceplugin/index.js';
import { checkLive, readDpdkInterfaces, type OffloadReport } from '../offload/index.js';
import { OvsdbClient } from '../ovs/ovsdb/index.js';
import { Vswitch } from '../ovs/vswitch.js';
import {
  createLogger,
  errorMessage,
  ExecaRunner,
  files,
  Ip,
  NotFoundError,
  SysFs,
  type CommandRunner,
  type Logger,
} from '../sys/index.js';
import type { NicContext } from '../vf/index.js';
import type { IpSource } from './attach/add.js';
import { AttachmentService } from './attach/service.js';
import { AGENT_TIMEOUT_MS } from '../cni/client.js';
import { CniServer } from './cni-server.js';
import type { AgentConfig } from './config.js';
import { FlowSampler } from './flow-sampler.js';
import { KubeOvnIpSource, kubernetesPodApi, kubernetesSubnetApi } from './kubeovn.js';
import { MetricsServer } from './metrics-server.js';
import { AgentMetrics } from './metrics.js';
import { NicCache } from './nic-cache.js';
import { reconcileNics, type PfPolicyStatus } from './nic-reconcile.js';
import { netnsExists } from './podnet.js';
import { kubernetesPodWatchSource, PodWatcher, type PodWatchSource } from './pod-watch.js';
import { reapplyBandwidth } from './attach/bandwidth.js';
import { Startup } from './startup.js';
import { StateStore } from './state.js';
import type { AgentStatus } from './status.js';

export interface AgentOptions {
  logger?: Logger;
  runner?: CommandRunner;
  ipSource?: IpSource;
  /** This node's pods for the pod watch (default: the `kubernetes` section's API server). */
  podWatch?: PodWatchSource;
  /** How long to wait for in-flight CNI requests on stop. */
  stopGraceMs?: number;
  /** Aborts start-up between steps (SIGTERM while the NIC is being brought up). */
  signal?: AbortSignal;
  /** Called before each start-up step with its name (tests signal at exact points). */
  beforeStep?: (step: string) => Promise<void>;
}

/** Everything a started agent holds; built step by step by `Agent.start`. */
export interface AgentParts {
  config: AgentConfig;
  logger: Logger;
  runner: CommandRunner;
  nicCtx: NicContext;
  client: OvsdbClient;
  vswitch: Vswitch;
  nics: NicCache;
  nicStatus: PfPolicyStatus[];
  attachments: AttachmentService;
  devicePlugin: DevicePluginManager | null;
  metrics: AgentMetrics;
  sampler: FlowSampler;
  startup: Startup;
  stopGraceMs: number;
}

/** The start-up steps, in order (logged, and the points where a signal may stop start-up). */
export const START_STEPS = [
  'state',
  'ovsdb',
  'bridge',
  'nic-policy',
  'attachments',
  // Kube-OVN's rate annotations changed on a running pod: applied within seconds.
  'pod-watch',
  'device-plugin',
  'flow-sampler',
  'cni-server',
  'metrics',
  // The last checkpoint: a signal that came while the listeners opened stops here.
  'ready',
] as const;

/**
 * The node agent: one OVSDB connection, the NIC cache, the attachment service behind the
 * CNI server. Start-up runs START_STEPS in order; each step registers the close of what it
 * opened, so a failure or a signal between steps closes exactly what is open.
 */
export class Agent {
  private stopping: Promise<void> | null = null;

  private constructor(readonly parts: AgentParts) {}

  get config(): AgentConfig {
    return this.parts.config;
  }

  static async start(config: AgentConfig, opts: AgentOptions = {}): Promise<Agent> {
    const logger = opts.logger ?? createLogger('ovs-offload-agent');
    const runner = opts.runner ?? new ExecaRunner();
    const s = new Startup(logger, opts.signal, opts.beforeStep);
    try {
      const store = await s.step('state', () => openStateStore(config, logger));
      const client = await s.step('ovsdb', () => openOvsdb(config, logger, s));
      const vswitch = await s.step('bridge', () => openBridge(config, logger, client, s));
      const nicCtx = {
        sysfs: new SysFs(config.sysfsRoot),
        runner,
        logger: logger.child({ component: 'nic' }),
      };
      const { nics, nicStatus } = await s.step('nic-policy', () =>
        applyNicPolicy(config, nicCtx, vswitch, store, opts.signal),
      );
      const attachments = await s.step('attachments', () =>
        reconcileAttachments(
          config,
          logger,
          { client, vswitch, nics, runner, store, s },
          opts.ipSource,
        ),
      );
      await s.step('pod-watch', async () =>
        startPodWatch(config, logger, { vswitch, attachments, s }, opts.podWatch),
      );
      const devicePlugin = await s.step('device-plugin', () =>
        startDevicePlugin(config, nicCtx, logger, s, client),
      );
      const metrics = new AgentMetrics({
        attachments: () => attachments.attachments(),
        pendingUndos: () => attachments.pendingUndos().length,
        pools: () => devicePlugin?.pools() ?? [],
        eswitchModes: () =>
          nics.managed().map((pf) => ({ pf, mode: nics.pf(pf)?.eswitchMode ?? null })),
      });
      // The sampler starts before the agent exists; its refusal count waits for it.
      let agentRef: Agent | null = null;
      const sampler = await s.step('flow-sampler', async () => {
        const sampler = new FlowSampler(
          runner,
          config.metrics.flowSampleIntervalMs,
          (byPort) => {
            metrics.setFlowSample(
              byPort,
              attachments.attachments().flatMap((a) => (a.representor ? [a.representor] : [])),
            );
            // The verdict (cached 10 s) feeds ovs_offload_flow_refusals_total.
            void agentRef?.offloadReport();
          },
          logger.child({ component: 'flows' }),
        );
        s.onClose('flow sampler', async () => sampler.stop());
        sampler.start();
        return sampler;
      });
      const agent = new Agent({
        config,
        logger,
        runner,
        nicCtx,
        client,
        vswitch,
        nics,
        nicStatus,
        attachments,
        devicePlugin,
        metrics,
        sampler,
        startup: s,
        stopGraceMs: opts.stopGraceMs ?? 30_000,
      });
      agentRef = agent;
      await s.step('cni-server', () => agent.startCniServer());
      await s.step('metrics', () => agent.startMetricsServer());
      await s.step('ready', async () => undefined);
      logger.info(
        { node: config.nodeName, bridge: config.ovs.bridge, pfs: nics.managed() },
        'agent ready',
      );
      return agent;
    } catch (err) {
      await s.closeAll(0);
      throw err;
    }
  }

  private async startCniServer(): Promise<void> {
    const { attachments, logger, metrics, startup } = this.parts;
    const server = new CniServer(
      this.config.cni.socket,
      {
        add: (r) => attachments.add(r),
        del: (r) => attachments.del(r),
        check: (r) => attachments.check(r),
        gc: (r) => attachments.gc(r),
        status: () => attachments.status(),
        state: () => this.status(),
      },
      logger.child({ component: 'cni-server' }),
      (op, outcome, seconds, code) => metrics.observeCni(op, outcome, seconds, code),
    );
    await server.start();
    startup.onClose('CNI server', (graceMs) => server.stop(graceMs));
  }

  private async startMetricsServer(): Promise<void> {
    const { config, metrics, client, logger, startup } = this.parts;
    if (config.metrics.listen === null) return;
    const server = new MetricsServer(
      config.metrics.listen,
      metrics,
      () => this.status(),
      () => client.isConnected,
      logger.child({ component: 'metrics' }),
    );
    // Registered before it listens: a listen that fails half-way still gets closed.
    startup.onClose('metrics server', () => server.stop());
    await server.start();
  }

  private offloadCache: { at: number; report: Promise<OffloadReport | null> } | null = null;

  /**
   * The offload verdict of every port, from one live dump-flows; cached for 10 s so that
   * status polling cannot turn into a dump loop on a node with many flows.
   */
  private offloadReport(): Promise<OffloadReport | null> {
    const now = Date.now();
    if (this.offloadCache && now - this.offloadCache.at < 10_000) return this.offloadCache.report;
    const { runner, vswitch, nicCtx, logger, metrics, client } = this.parts;
    const report = checkLive({
      runner,
      vswitch,
      ovsdb: client,
      nicCtx,
      timeoutMs: 10_000,
      logger,
    }).then(
      (r) => {
        metrics.observeRefusals(r);
        return r;
      },
      (err: unknown) => {
        logger.warn({ err: errorMessage(err) }, 'offload verdict unavailable');
        return null;
      },
    );
    this.offloadCache = { at: now, report };
    return report;
  }

  /** The node status document (GET /api/v1/state and /status). */
  async status(): Promise<AgentStatus> {
    const { config, client, nics, nicStatus, devicePlugin, attachments } = this.parts;
    const report = await this.offloadReport();
    const byPort = new Map((report?.ports ?? []).map((p) => [p.port, p]));
    const pending = new Map(attachments.pendingUndos().map((p) => [p.key, p]));
    return {
      node: config.nodeName,
      ovsdb: { endpoint: config.ovs.db, connected: client.isConnected },
      bridge: config.ovs.bridge,
      pfs: nics.managed().map((pci) => {
        const pf = nics.pf(pci);
        return {
          pci,
          netdev: pf?.netdev ?? null,
          eswitchMode: pf?.eswitchMode ?? null,
          numVfs: pf?.numVfs ?? null,
          vfs: (pf?.vfs ?? []).map((v) => ({
            vfIndex: v.vfIndex,
            pci: v.pci,
            driver: v.driver,
            representor: v.representor,
          })),
        };
      }),
      nicPolicies: nicStatus,
      devicePlugin: devicePlugin?.pools() ?? null,
      attachments: attachments.attachments().map((s) => {
        const port = s.representor ? byPort.get(s.representor) : undefined;
        const undo = pending.get(`${s.containerID}/${s.ifName}`);
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
          pendingUndo: undo ? { attempts: undo.attempts, lastError: undo.lastError } : null,
          offload: port
            ? {
                verdict: port.verdict,
                offloadedFlows: port.flows.offloaded.flows,
                partialFlows: port.flows.partial.flows,
                softwareFlows: port.flows.software.flows,
                reasons: port.reasons.map((r) => r.code),
                // The short evidence: a flow's ufid, a log line (cut), one per reason.
                evidence: port.reasons.flatMap((r) =>
                  r.evidence?.[0] === undefined
                    ? []
                    : [{ code: r.code, text: r.evidence[0].slice(0, 200) }],
                ),
              }
            : null,
        };
      }),
    };
  }

  /** Stops accepting, lets in-flight requests finish (bounded), closes everything. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.parts.logger.info('agent stopping');
      await this.parts.startup.closeAll(this.parts.stopGraceMs);
      this.parts.logger.info('agent stopped');
    })();
    return this.stopping;
  }
}

async function openStateStore(config: AgentConfig, logger: Logger): Promise<StateStore> {
  const store = new StateStore(config.stateDir, logger);
  await store.init();
  return store;
}

/** One OVSDB connection for the agent's life; start-up waits (with backoff) until it is up. */
async function openOvsdb(config: AgentConfig, logger: Logger, s: Startup): Promise<OvsdbClient> {
  const client = new OvsdbClient(config.ovs.db, {
    logger: logger.child({ component: 'ovsdb' }),
    // The CNI front end gives up on the agent after AGENT_TIMEOUT_MS: a call waiting out an
    // OVSDB outage must fail (as 11, "try again") well before that, or the runtime sees a
    // bare "agent unreachable" instead of the reason.
    requestTimeoutMs: Math.round(AGENT_TIMEOUT_MS * 0.6),
  });
  s.onClose('OVSDB client', () => client.close());
  for (let attempt = 1; ; attempt++) {
    s.checkpoint();
    try {
      await client.waitConnected(5_000);
      return client;
    } catch (err) {
      logger.warn({ db: config.ovs.db, attempt, err: errorMessage(err) }, 'waiting for OVSDB');
    }
  }
}

/** The vswitch API (its monitor), the pod bridge, and other_config hw-offload/tc-policy. */
async function openBridge(
  config: AgentConfig,
  logger: Logger,
  client: OvsdbClient,
  s: Startup,
): Promise<Vswitch> {
  const vswitch = new Vswitch(client, {
    owner: config.nodeName,
    logger: logger.child({ component: 'vswitch' }),
  });
  s.onClose('vswitch monitor', () => vswitch.close());
  const ids = await vswitch.getExternalIds();
  // OVN's own convention tells which datapath br-int belongs on (netdev for OVS-DPDK).
  const datapathType = ids['ovn-bridge-datapath-type'];
  await vswitch.ensureBridge(config.ovs.bridge, datapathType ? { datapathType } : {});
  await applyOffloadConfig(vswitch, config, logger);
  return vswitch;
}

/** Brings nics[] PFs to their policy, refusing changes under VFs that pods use. */
async function applyNicPolicy(
  config: AgentConfig,
  nicCtx: NicContext & { logger: Logger },
  vswitch: Vswitch,
  store: StateStore,
  signal: AbortSignal | undefined,
): Promise<{ nics: NicCache; nicStatus: PfPolicyStatus[] }> {
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
  const nics = new NicCache(nicCtx, config.nics, nicCtx.logger);
  await nics.refresh();
  return { nics, nicStatus };
}

/** The attachment service over the state files, with what a crash left undone undone. */
async function reconcileAttachments(
  config: AgentConfig,
  logger: Logger,
  d: {
    client: OvsdbClient;
    vswitch: Vswitch;
    nics: NicCache;
    runner: CommandRunner;
    store: StateStore;
    s: Startup;
  },
  ipSource: IpSource | undefined,
): Promise<AttachmentService> {
  const source =
    ipSource ??
    (config.kubernetes
      ? new KubeOvnIpSource(
          kubernetesPodApi(config.kubernetes.kubeconfig),
          config.kubernetes.annotationWaitMs,
          logger.child({ component: 'kube-ovn' }),
          kubernetesSubnetApi(config.kubernetes.kubeconfig),
        )
      : undefined);
  const pods = config.kubernetes ? kubernetesPodApi(config.kubernetes.kubeconfig) : null;
  const attachments = new AttachmentService({
    config,
    vswitch: d.vswitch,
    nics: d.nics,
    ip: new Ip(d.runner),
    runner: d.runner,
    store: d.store,
    logger: logger.child({ component: 'cni' }),
    ...(source ? { ipSource: source } : {}),
    pods,
    ovsdbReady: () => d.client.isConnected,
  });
  d.s.onClose('attachment retries', async () => attachments.close());
  const rec = await attachments.reconcile();
  logger.info(rec, 'attachments reconciled');
  try {
    // Rate-limit rows of ports removed behind our back (ovs-vsctl del-port, a lost state dir).
    await d.vswitch.sweepOrphanQos();
  } catch (err) {
    logger.warn({ err: errorMessage(err) }, 'could not delete unreferenced QoS rows');
  }
  return attachments;
}

/**
 * Kube-OVN re-applies a pod's rate annotations when they change (pkg/daemon/controller.go
 * enqueueUpdatePod → controller_linux.go handlePod → SetInterfaceBandwidth): so does the
 * agent, from a watch on this node's pods, for the attachments it holds. Only with a
 * `kubernetes` section (or an injected source).
 */
async function startPodWatch(
  config: AgentConfig,
  logger: Logger,
  d: { vswitch: Vswitch; attachments: AttachmentService; s: Startup },
  injected: PodWatchSource | undefined,
): Promise<PodWatcher | null> {
  if (!injected && !config.kubernetes) return null;
  const source =
    injected ?? kubernetesPodWatchSource(config.kubernetes?.kubeconfig, config.nodeName);
  const log = logger.child({ component: 'pod-watch' });
  const watcher = new PodWatcher(
    source,
    async (pod) => {
      for (const st of d.attachments.attachments()) {
        if (st.pod.namespace !== pod.namespace || st.pod.name !== pod.name) continue;
        // A pod of the same name but another uid is a new pod: its own ADD is coming.
        if (!st.addCompleted || (st.pod.uid && pod.uid && st.pod.uid !== pod.uid)) continue;
        try {
          await reapplyBandwidth({ vswitch: d.vswitch, logger: log }, st, pod.annotations);
        } catch (err) {
          // A DEL took the port meanwhile: nothing to limit.
          if (err instanceof NotFoundError) continue;
          throw err;
        }
      }
    },
    log,
  );
  // An ADD that completes after the watch saw the pod's latest annotations re-applies them:
  // ADD read the pod before, and an event in between was skipped (ADD not complete yet).
  d.attachments.onChange((e) => {
    if (e.op === 'add') watcher.redeliver(e.state.pod.namespace, e.state.pod.name);
  });
  d.s.onClose('pod watch', () => watcher.close());
  watcher.start();
  return watcher;
}

async function startDevicePlugin(
  config: AgentConfig,
  nicCtx: NicContext,
  logger: Logger,
  s: Startup,
  client: OvsdbClient,
): Promise<DevicePluginManager | null> {
  const section = config.devicePlugin;
  if (!section) return null;
  const settings = await loadDevicePluginSettings(section, files);
  const log = logger.child({ component: 'device-plugin' });
  for (const w of settings.warnings) log.warn(w);
  const manager = new DevicePluginManager({
    ...settings,
    sysfs: nicCtx.sysfs,
    runner: nicCtx.runner,
    logger: log,
    // A vfio-pci PF has no carrier to read: its link is its OVS DPDK port's link_state.
    dpdkLinks: { ports: () => readDpdkInterfaces(client) },
  });
  s.onClose('device plugin', () => manager.stop());
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
