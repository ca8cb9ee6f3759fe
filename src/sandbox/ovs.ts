import * as path from 'node:path';
import { files, isAlive, pollUntil, type RunResult } from '../sys/index.js';
import { stopPid } from './registry.js';
import type { Sandbox } from './sandbox.js';

const VSWITCH_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

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

  constructor(private readonly sb: Sandbox) {
    this.dir = path.join(sb.dir, 'ovs');
    this.dbSock = path.join(this.dir, 'db.sock');
    this.vswitchdCtl = path.join(this.dir, 'ovs-vswitchd.ctl');
    this.ovsdbCtl = path.join(this.dir, 'ovsdb-server.ctl');
    this.env = { OVS_RUNDIR: this.dir, OVS_LOGDIR: this.dir, OVS_DBDIR: this.dir };
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
    await this.startVswitchd();
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
        'ovs-vswitchd',
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
    await files.symlink(path.join(this.dir, `ovs-vswitchd.${pid}.ctl`), this.vswitchdCtl);
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

export async function startOvs(sb: Sandbox): Promise<OvsInstance> {
  const ovs = new OvsInstance(sb);
  await ovs.start();
  sb.logger.info({ sandbox: sb.id, db: ovs.dbSock }, 'ovs started');
  return ovs;
}
