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

  /**
   * A veth between the root netns and the sandbox host netns with a /30 on it, so a service
   * started by the test process (a Kubernetes API double, a metrics scraper) is reachable from
   * the agent inside the sandbox, and the agent's listeners from the test. Removed with the
   * sandbox netns (a veth dies with either end).
   */
  async connectToRoot(): Promise<{ rootIp: string; sandboxIp: string }> {
    if (this.rootLink) return this.rootLink;
    const rootEnd = `o${this.id}r0`;
    const sbEnd = `o${this.id}r1`;
    // 169.254.<1..254>.<4k>/30 from the id, so parallel sandboxes do not share a subnet.
    let h = 0;
    for (const c of this.id) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    const third = 1 + (h % 254);
    const fourth = ((h >>> 8) % 63) * 4;
    const rootIp = `169.254.${third}.${fourth + 1}`;
    const sandboxIp = `169.254.${third}.${fourth + 2}`;
    await this.runner.run([
      'ip',
      'link',
      'add',
      rootEnd,
      'type',
      'veth',
      'peer',
      'name',
      sbEnd,
      'netns',
      this.hostNetns,
    ]);
    // Deleted explicitly: netns teardown is asynchronous, so relying on it would leave the
    // root end visible for a moment after destroy().
    this.registry.add({ kind: 'link', name: rootEnd });
    await this.ip.batch(null, [
      ['addr', 'add', `${rootIp}/30`, 'dev', rootEnd],
      ['link', 'set', rootEnd, 'up'],
    ]);
    await this.ip.batch({ name: this.hostNetns }, [
      ['addr', 'add', `${sandboxIp}/30`, 'dev', sbEnd],
      ['link', 'set', sbEnd, 'up'],
    ]);
    this.rootLink = { rootIp, sandboxIp };
    return this.rootLink;
  }

  private rootLink: { rootIp: string; sandboxIp: string } | null = null;

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
