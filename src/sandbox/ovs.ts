import * as os from 'node:os';
import * as path from 'node:path';
import { files, isAlive, pollUntil, type RunResult } from '../sys/index.js';
import { setupHugepages } from './hugepages.js';
import { stopPid } from './registry.js';
import type { Sandbox } from './sandbox.js';

const VSWITCH_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';
/** Debian's DPDK build (openvswitch-switch-dpdk); the default ovs-vswitchd stays as it is. */
export const DPDK_VSWITCHD = '/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk';

/**
 * The agent's `nics[].dpdkDevargs` for the emulated NIC: its representors are veth ends, so
 * a DPDK port reaches one through the net_af_packet vdev. A vdev name is unique per DPDK
 * process, hence the representor in it too.
 */
export const SANDBOX_DPDK_DEVARGS = 'net_af_packet_{representor},iface={representor}';

export interface OvsOptions {
  /**
   * `netdev` (default): the stock ovs-vswitchd. `netdev-dpdk`: the DPDK build with EAL up on
   * sandbox hugepages (`--no-pci`: no device of this machine is handed to DPDK), its PMD
   * thread pinned to one CPU and sleeping when idle.
   */
  datapath?: 'netdev' | 'netdev-dpdk';
}

/**
 * A private Open vSwitch: ovsdb-server + ovs-vswitchd (userspace datapath only: this
 * kernel has no openvswitch module) with every socket, pid and log under the sandbox dir.
 * ovs-vswitchd runs in the sandbox host netns because the netdev datapath creates tap
 * devices (`ovs-netdev`, one per bridge) in whatever netns it runs in.
 */
export class OvsInstance {
  readonly dir: string;
  readonly dbSock: string;
  readonly vswitchdCtl: string;
  readonly ovsdbCtl: string;
  /** OVS_RUNDIR/OVS_LOGDIR/OVS_DBDIR for ovs-* tools, so their defaults point here. */
  readonly env: Record<string, string>;

  readonly datapath: 'netdev' | 'netdev-dpdk';
  /**
   * netdev-dpdk: vm.nr_hugepages before the sandbox raised it (null: left as it was). The
   * sandbox's cleanup puts it back; a kept sandbox (`demo --keep`) leaves that to its user.
   */
  hugepagesRaisedFrom: string | null = null;

  constructor(
    private readonly sb: Sandbox,
    opts: OvsOptions = {},
  ) {
    this.datapath = opts.datapath ?? 'netdev';
    this.dir = path.join(sb.dir, 'ovs');
    this.dbSock = path.join(this.dir, 'db.sock');
    this.vswitchdCtl = path.join(this.dir, 'ovs-vswitchd.ctl');
    this.ovsdbCtl = path.join(this.dir, 'ovsdb-server.ctl');
    this.env = { OVS_RUNDIR: this.dir, OVS_LOGDIR: this.dir, OVS_DBDIR: this.dir };
  }

  private get binary(): string {
    return this.datapath === 'netdev-dpdk' ? DPDK_VSWITCHD : 'ovs-vswitchd';
  }

  /** `unix:<db.sock>`, the form ovs-vsctl --db and our OVSDB client take. */
  get dbTarget(): string {
    return `unix:${this.dbSock}`;
  }

  private pidFile(daemon: string): string {
    return path.join(this.dir, `${daemon}.pid`);
  }

  async pid(daemon: 'ovsdb-server' | 'ovs-vswitchd'): Promise<number | null> {
    const t = await files.readTextOrNull(this.pidFile(daemon));
    const pid = t ? parseInt(t.trim(), 10) : NaN;
    return Number.isInteger(pid) && isAlive(pid) ? pid : null;
  }

  async start(): Promise<void> {
    await files.mkdir(this.dir);
    await this.sb.runner.run([
      'ovsdb-tool',
      'create',
      path.join(this.dir, 'conf.db'),
      VSWITCH_SCHEMA,
    ]);
    await this.startOvsdb();
    await this.vsctl(['--no-wait', 'init']);
    if (this.datapath === 'netdev-dpdk') await this.configureDpdk();
    await this.startVswitchd();
  }

  private async configureDpdk(): Promise<void> {
    const huge = await setupHugepages(this.sb, 256);
    this.hugepagesRaisedFrom = huge.raisedFrom;
    await this.vsctl([
      '--no-wait',
      'set',
      'Open_vSwitch',
      '.',
      'other_config:dpdk-init=true',
      `other_config:dpdk-extra=--no-pci --huge-dir=${huge.dir}`,
      'other_config:dpdk-socket-mem=256',
      // One PMD on the last CPU, sleeping up to 10 ms when its queues are idle: a polling
      // thread would otherwise spin a whole core of a small test machine.
      `other_config:pmd-cpu-mask=0x${(1 << (os.availableParallelism() - 1)).toString(16)}`,
      'other_config:pmd-maxsleep=10000',
    ]);
  }

  private async waitDpdkInitialized(): Promise<void> {
    const ok = await pollUntil(
      async () =>
        (await this.vsctl(['get', 'Open_vSwitch', '.', 'dpdk_initialized'])).stdout.trim() ===
        'true'
          ? true
          : undefined,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    if (!ok) {
      const log = await files.readTail(path.join(this.dir, 'ovs-vswitchd.log'), 2000);
      throw new Error(`DPDK did not initialise in ovs-vswitchd:\n${log.text}`);
    }
  }

  async startOvsdb(): Promise<void> {
    await this.sb.runner.run(
      [
        'ovsdb-server',
        path.join(this.dir, 'conf.db'),
        `--remote=punix:${this.dbSock}`,
        '--remote=db:Open_vSwitch,Open_vSwitch,manager_options',
        `--pidfile=${this.pidFile('ovsdb-server')}`,
        `--unixctl=${this.ovsdbCtl}`,
        `--log-file=${path.join(this.dir, 'ovsdb-server.log')}`,
        '--detach',
        '--no-chdir',
      ],
      { env: this.env },
    );
    this.sb.registry.add({
      kind: 'pidfile',
      path: this.pidFile('ovsdb-server'),
      what: 'ovsdb-server',
    });
  }

  async startVswitchd(): Promise<void> {
    await this.sb.runner.run(
      this.sb.inHost([
        this.binary,
        this.dbTarget,
        '--disable-system',
        `--pidfile=${this.pidFile('ovs-vswitchd')}`,
        // The default control socket name ($OVS_RUNDIR/ovs-vswitchd.<pid>.ctl), so a plain
        // `ovs-appctl dpctl/...` with OVS_RUNDIR set finds it, as on a node.
        `--log-file=${path.join(this.dir, 'ovs-vswitchd.log')}`,
        '--detach',
        '--no-chdir',
      ]),
      { env: this.env },
    );
    this.sb.registry.add({
      kind: 'pidfile',
      path: this.pidFile('ovs-vswitchd'),
      what: 'ovs-vswitchd',
    });
    const pid = await this.pid('ovs-vswitchd');
    if (pid === null) throw new Error('ovs-vswitchd did not start');
    // A stable path for `ovs-appctl -t` across restarts (the real socket name has the pid).
    // The DPDK build names its socket after its own program name; a node's alternatives
    // link calls it ovs-vswitchd, so the default name points at it too.
    const real = path.join(this.dir, `${path.basename(this.binary)}.${pid}.ctl`);
    if (this.datapath === 'netdev-dpdk') {
      await files.symlink(real, path.join(this.dir, `ovs-vswitchd.${pid}.ctl`));
    }
    await files.symlink(real, this.vswitchdCtl);
    // EAL takes a second or two: a DPDK port added before it is up fails to open.
    if (this.datapath === 'netdev-dpdk') await this.waitDpdkInitialized();
  }

  /** Kills ovsdb-server abruptly (SIGKILL), as a crash would: its socket file stays behind. */
  async killOvsdb(): Promise<void> {
    const pid = await this.pid('ovsdb-server');
    if (pid === null) return;
    process.kill(pid, 'SIGKILL');
    await pollUntil(async () => (isAlive(pid) ? undefined : true), { timeoutMs: 5000 });
  }

  async stopVswitchd(): Promise<void> {
    const pid = await this.pid('ovs-vswitchd');
    if (pid !== null) await stopPid(pid);
  }

  /** What `systemctl restart openvswitch-switch` does for hw-offload to take effect. */
  async restartVswitchd(): Promise<void> {
    await this.stopVswitchd();
    await this.startVswitchd();
  }

  vsctl(args: readonly string[], timeoutMs = 20_000): Promise<RunResult> {
    return this.sb.runner.run(
      ['ovs-vsctl', `--db=${this.dbTarget}`, `--timeout=${Math.ceil(timeoutMs / 1000)}`, ...args],
      {
        env: this.env,
        timeoutMs: timeoutMs + 1000,
      },
    );
  }

  appctl(args: readonly string[]): Promise<RunResult> {
    return this.sb.runner.run(['ovs-appctl', '-t', this.vswitchdCtl, ...args], { env: this.env });
  }

  /** A bridge on the userspace datapath (the only one this kernel has). */
  async addBridge(name: string): Promise<void> {
    await this.vsctl([
      '--may-exist',
      'add-br',
      name,
      '--',
      'set',
      'Bridge',
      name,
      'datapath_type=netdev',
    ]);
  }

  async stop(): Promise<void> {
    await this.stopVswitchd();
    const pid = await this.pid('ovsdb-server');
    if (pid !== null) await stopPid(pid);
  }
}

export async function startOvs(sb: Sandbox, opts: OvsOptions = {}): Promise<OvsInstance> {
  const ovs = new OvsInstance(sb, opts);
  await ovs.start();
  sb.logger.info({ sandbox: sb.id, db: ovs.dbSock }, 'ovs started');
  return ovs;
}
