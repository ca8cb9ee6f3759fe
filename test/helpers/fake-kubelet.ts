import { mkdirSync, readdirSync, rmSync, statSync, watch, type FSWatcher } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { serverStream, unary, unixClient, unixTarget } from '../../src/deviceplugin/grpc-client.js';
import {
  API_VERSION,
  kubeletApis,
  type AllocateResponse,
  type ContainerPreferredAllocationRequest,
  type Device,
  type DevicePluginOptions,
  type KubeletRegistrationImpl,
  type ListAndWatchResponse,
  type PreferredAllocationResponse,
} from '../../src/deviceplugin/proto.js';

/**
 * A kubelet for tests, speaking real gRPC over unix sockets in a temp kubelet dir:
 *  - 'register' mode serves v1beta1 Registration on device-plugins/kubelet.sock;
 *  - 'watcher' mode also has plugins_registry/ and acts like the kubelet's plugin watcher
 *    (GetInfo on every socket that appears, then NotifyRegistrationStatus).
 * Either way it connects back to the plugin and can drive ListAndWatch, Allocate and
 * GetPreferredAllocation like the device manager does.
 */

export type KubeletMode = 'register' | 'watcher';

export interface Registration {
  resourceName: string;
  /** Full path of the plugin's DevicePlugin socket. */
  endpoint: string;
  mode: KubeletMode;
  options: DevicePluginOptions | null;
  at: number;
}

export interface FakeKubeletOptions {
  kubeletDir: string;
  mode: KubeletMode;
  /** Refuse this many registrations (NotifyRegistrationStatus false / Register error) first. */
  refuse?: number;
}

export class FakeKubelet {
  readonly registrations: Registration[] = [];
  readonly refusals: string[] = [];
  private server: grpc.Server | undefined;
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private readonly seen = new Map<string, string>();
  private readonly clients = new Set<PluginClient>();
  private refuse: number;
  private waiters: (() => void)[] = [];

  private constructor(readonly opts: FakeKubeletOptions) {
    this.refuse = opts.refuse ?? 0;
  }

  get devicePluginsDir(): string {
    return path.join(this.opts.kubeletDir, 'device-plugins');
  }

  get registryDir(): string {
    return path.join(this.opts.kubeletDir, 'plugins_registry');
  }

  get socket(): string {
    return path.join(this.devicePluginsDir, 'kubelet.sock');
  }

  static async start(opts: FakeKubeletOptions): Promise<FakeKubelet> {
    const k = new FakeKubelet(opts);
    await k.listen();
    return k;
  }

  private async listen(): Promise<void> {
    mkdirSync(this.devicePluginsDir, { recursive: true });
    if (this.opts.mode === 'watcher') mkdirSync(this.registryDir, { recursive: true });
    // A kubelet starting up wipes device-plugins/ (plugins must notice and re-register).
    for (const f of readdirSync(this.devicePluginsDir)) {
      if (f !== 'kubelet_internal_checkpoint')
        rmSync(path.join(this.devicePluginsDir, f), { force: true });
    }
    const server = new grpc.Server();
    const impl: KubeletRegistrationImpl = {
      Register: (call, cb) => {
        const req = call.request;
        if (req.version !== API_VERSION) {
          cb({ code: grpc.status.INVALID_ARGUMENT, details: `unsupported version ${req.version}` });
          return;
        }
        if (this.refuse > 0) {
          this.refuse--;
          this.refusals.push(req.resource_name);
          cb({ code: grpc.status.UNAVAILABLE, details: 'refused by the test kubelet' });
          return;
        }
        this.record({
          resourceName: req.resource_name,
          endpoint: path.join(this.devicePluginsDir, req.endpoint),
          mode: 'register',
          options: req.options,
          at: Date.now(),
        });
        cb(null, {});
      },
    };
    server.addService(kubeletApis().registration.service, impl);
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(unixTarget(this.socket), grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    this.server = server;
    if (this.opts.mode === 'watcher') {
      this.watcher = watch(this.registryDir, () => void this.scan());
      this.poll = setInterval(() => void this.scan(), 100);
      await this.scan();
    }
  }

  private record(r: Registration): void {
    this.registrations.push(r);
    for (const w of this.waiters.splice(0)) w();
  }

  /** The plugin watcher: every new socket in plugins_registry gets GetInfo + a verdict. */
  private async scan(): Promise<void> {
    if (!this.server) return;
    let names: string[];
    try {
      names = readdirSync(this.registryDir);
    } catch {
      return;
    }
    for (const n of names) {
      const p = path.join(this.registryDir, n);
      let id: string;
      try {
        const st = statSync(p);
        if (!st.isSocket()) continue;
        id = `${st.ino}:${st.ctimeMs}`;
      } catch {
        continue;
      }
      if (this.seen.get(p) === id) continue;
      this.seen.set(p, id);
      await this.registerPlugin(p).catch(() => this.seen.delete(p));
    }
  }

  private async registerPlugin(socket: string): Promise<void> {
    const client = unixClient(socket);
    const apis = kubeletApis().pluginRegistration;
    try {
      const info = await unary(client, apis.GetInfo, {}, 2000);
      const ok =
        info.type === 'DevicePlugin' &&
        info.supported_versions.includes(API_VERSION) &&
        path.isAbsolute(info.endpoint);
      if (!ok || this.refuse > 0) {
        if (ok) this.refuse--;
        this.refusals.push(info.name);
        await unary(
          client,
          apis.NotifyRegistrationStatus,
          {
            plugin_registered: false,
            error: ok ? 'refused by the test kubelet' : 'bad plugin info',
          },
          2000,
        );
        return;
      }
      await unary(
        client,
        apis.NotifyRegistrationStatus,
        { plugin_registered: true, error: '' },
        2000,
      );
      this.record({
        resourceName: info.name,
        endpoint: info.endpoint,
        mode: 'watcher',
        options: null,
        at: Date.now(),
      });
    } finally {
      client.close();
    }
  }

  /** Resolves with the first registration of resourceName made at or after `since`. */
  async waitForRegistration(
    resourceName: string,
    since = 0,
    timeoutMs = 10_000,
  ): Promise<Registration> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.registrations.find((x) => x.resourceName === resourceName && x.at >= since);
      if (r) return r;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `no registration of ${resourceName} in ${timeoutMs} ms (have: ${JSON.stringify(this.registrations.map((x) => x.resourceName))}, refused: ${JSON.stringify(this.refusals)})`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** A device manager connection to a registered plugin (its latest endpoint). */
  plugin(resourceName: string): PluginClient {
    const r = [...this.registrations].reverse().find((x) => x.resourceName === resourceName);
    if (!r) throw new Error(`${resourceName} is not registered`);
    const c = new PluginClient(r.endpoint, () => this.clients.delete(c));
    this.clients.add(c);
    return c;
  }

  /** Stops serving; with wipe, removes kubelet.sock too (a dead kubelet leaves nothing). */
  async stop(): Promise<void> {
    for (const c of [...this.clients]) c.close();
    if (this.watcher) this.watcher.close();
    if (this.poll) clearInterval(this.poll);
    this.watcher = undefined;
    this.poll = undefined;
    const s = this.server;
    this.server = undefined;
    s?.forceShutdown();
    rmSync(this.socket, { force: true });
  }

  /** A kubelet restart: stop, then a new kubelet on the same dir (which wipes device-plugins/). */
  async restart(opts: Partial<FakeKubeletOptions> = {}): Promise<FakeKubelet> {
    await this.stop();
    return FakeKubelet.start({ ...this.opts, ...opts });
  }
}

export class DeviceStream {
  readonly updates: { at: number; devices: Device[] }[] = [];
  private waiters: (() => void)[] = [];
  error: Error | undefined;
  ended = false;

  constructor(private readonly call: grpc.ClientReadableStream<ListAndWatchResponse>) {
    call.on('data', (r: ListAndWatchResponse) => {
      this.updates.push({ at: Date.now(), devices: r.devices });
      this.wake();
    });
    call.on('error', (err: Error) => {
      this.error = err;
      this.wake();
    });
    call.on('end', () => {
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  get latest(): Device[] | undefined {
    return this.updates[this.updates.length - 1]?.devices;
  }

  /** The first update at or after index `from` whose list satisfies pred. */
  async waitFor(
    pred: (devices: Device[]) => boolean,
    opts: { timeoutMs?: number; from?: number; what?: string } = {},
  ): Promise<{ at: number; devices: Device[]; index: number }> {
    const deadline = Date.now() + (opts.timeoutMs ?? 5000);
    let i = opts.from ?? 0;
    for (;;) {
      for (; i < this.updates.length; i++) {
        const u = this.updates[i]!;
        if (pred(u.devices)) return { ...u, index: i };
      }
      if (this.ended || this.error) {
        throw new Error(
          `ListAndWatch ended before ${opts.what ?? 'the condition'}: ${String(this.error)}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `no ListAndWatch update with ${opts.what ?? 'the condition'} in ${opts.timeoutMs ?? 5000} ms (latest: ${JSON.stringify(this.latest)})`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.call.cancel();
  }
}

export class PluginClient {
  private readonly client: grpc.Client;
  private readonly streams = new Set<DeviceStream>();

  constructor(
    readonly endpoint: string,
    private readonly onClose: () => void,
  ) {
    this.client = unixClient(endpoint);
  }

  options(): Promise<DevicePluginOptions> {
    return unary(this.client, kubeletApis().devicePlugin.GetDevicePluginOptions, {}, 5000);
  }

  allocate(containers: string[][]): Promise<AllocateResponse> {
    return unary(
      this.client,
      kubeletApis().devicePlugin.Allocate,
      { container_requests: containers.map((devices_ids) => ({ devices_ids })) },
      5000,
    );
  }

  preferred(requests: ContainerPreferredAllocationRequest[]): Promise<PreferredAllocationResponse> {
    return unary(
      this.client,
      kubeletApis().devicePlugin.GetPreferredAllocation,
      { container_requests: requests },
      5000,
    );
  }

  preStart(ids: string[]): Promise<unknown> {
    return unary(
      this.client,
      kubeletApis().devicePlugin.PreStartContainer,
      { devices_ids: ids },
      5000,
    );
  }

  listAndWatch(): DeviceStream {
    const s = new DeviceStream(
      serverStream(this.client, kubeletApis().devicePlugin.ListAndWatch, {}),
    );
    this.streams.add(s);
    return s;
  }

  close(): void {
    for (const s of this.streams) s.close();
    this.streams.clear();
    this.client.close();
    this.onClose();
  }
}

/** Health of each device of a list, by ID. */
export function healthById(devices: readonly Device[]): Record<string, string> {
  return Object.fromEntries(devices.map((d) => [d.ID, d.health]));
}
