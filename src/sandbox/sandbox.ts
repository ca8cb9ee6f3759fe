import * as os from 'node:os';
import * as path from 'node:path';
import {
  ExecaRunner,
  files,
  Ip,
  type CommandRunner,
  type Logger,
  silentLogger,
} from '../sys/index.js';
import { hostNetnsName, newSandboxId, podNetnsName, POD_NAME_RE } from './names.js';
import { ResourceRegistry } from './registry.js';
import { findLeftovers } from './leftovers.js';

export interface Pod {
  /** The short name given to makePod. */
  readonly name: string;
  /** The netns name (`ip -n`). */
  readonly netns: string;
  /** /var/run/netns/<netns>, what a container runtime passes as CNI_NETNS. */
  readonly path: string;
}

export interface SandboxOptions {
  logger?: Logger;
  runner?: CommandRunner;
  /** Parent of the sandbox's temp dir (default: the OS temp dir). */
  tmpRoot?: string;
}

/**
 * One emulated node: a private "host" netns (where ovs-vswitchd and the agent run, and where
 * VFs come home), a temp dir for daemons and the sysfs tree, and a registry of everything
 * created so `destroy()` leaves nothing behind.
 */
export class Sandbox {
  readonly ip: Ip;
  readonly registry: ResourceRegistry;
  private readonly pods = new Map<string, Pod>();
  private destroyed = false;

  private constructor(
    readonly id: string,
    readonly dir: string,
    readonly hostNetns: string,
    readonly runner: CommandRunner,
    readonly logger: Logger,
  ) {
    this.ip = new Ip(runner);
    this.registry = new ResourceRegistry(runner);
  }

  static async create(opts: SandboxOptions = {}): Promise<Sandbox> {
    const runner = opts.runner ?? new ExecaRunner();
    const logger = opts.logger ?? silentLogger();
    const id = newSandboxId();
    const dir = await files.mkdtemp(path.join(opts.tmpRoot ?? os.tmpdir(), `oo-${id}-`));
    const hostNetns = hostNetnsName(id);
    const sb = new Sandbox(id, dir, hostNetns, runner, logger);
    sb.registry.add({ kind: 'dir', path: dir });
    try {
      await runner.run(['ip', 'netns', 'add', hostNetns]);
      sb.registry.add({ kind: 'netns', name: hostNetns });
      await sb.ip.run({ name: hostNetns }, ['link', 'set', 'lo', 'up']);
    } catch (err) {
      await sb.destroy();
      throw err;
    }
    logger.info({ sandbox: id, dir, netns: hostNetns }, 'sandbox created');
    return sb;
  }

  /** /var/run/netns path of the host netns (for nsenter --net=). */
  get hostNetnsPath(): string {
    return `/var/run/netns/${this.hostNetns}`;
  }

  /** argv prefix that runs a program inside the sandbox host netns. */
  inHost(argv: readonly string[]): string[] {
    return ['nsenter', `--net=${this.hostNetnsPath}`, ...argv];
  }

  /** A pod: a netns with `lo` up. */
  async makePod(name: string): Promise<Pod> {
    if (!POD_NAME_RE.test(name))
      throw new Error(`pod name ${JSON.stringify(name)} must be [a-z0-9-], 1-32 chars`);
    const netns = podNetnsName(this.id, name);
    await this.runner.run(['ip', 'netns', 'add', netns]);
    this.registry.add({ kind: 'netns', name: netns });
    await this.ip.run({ name: netns }, ['link', 'set', 'lo', 'up']);
    const pod: Pod = { name, netns, path: `/var/run/netns/${netns}` };
    this.pods.set(name, pod);
    return pod;
  }

  pod(name: string): Pod {
    const p = this.pods.get(name);
    if (!p) throw new Error(`no pod ${name} in sandbox ${this.id}`);
    return p;
  }

  /** Runs argv inside a pod's netns (ping, iperf3, ip). */
  execInPod(pod: Pod, argv: readonly string[], timeoutMs = 30_000) {
    return this.runner.run(['ip', 'netns', 'exec', pod.netns, ...argv], { timeoutMs });
  }

  /** Removes everything this sandbox made (newest first); returns the problems met. */
  async destroy(): Promise<string[]> {
    if (this.destroyed) return [];
    this.destroyed = true;
    const problems = await this.registry.cleanup();
    const left = await findLeftovers(this.runner, this.id, this.dir);
    if (left.length > 0) problems.push(...left.map((l) => `left behind: ${l}`));
    if (problems.length > 0)
      this.logger.warn({ sandbox: this.id, problems }, 'sandbox cleanup problems');
    return problems;
  }
}
