import * as path from 'node:path';
import { files, type RunResult } from '../sys/index.js';
import type { OvsInstance } from './ovs.js';
import type { Sandbox } from './sandbox.js';

const NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema';
const SB_SCHEMA = '/usr/share/ovn/ovn-sb.ovsschema';

/**
 * Kube-OVN's control plane in miniature: OVN NB/SB databases, ovn-northd, and an
 * ovn-controller bound to the sandbox OVS (it binds ports by `iface-id` and writes
 * `ovn-installed="true"` on their Interface once flows are in place).
 */
export class OvnInstance {
  readonly dir: string;
  readonly nbSock: string;
  readonly sbSock: string;
  readonly env: Record<string, string>;
  readonly chassis: string;

  constructor(
    private readonly sb: Sandbox,
    readonly ovs: OvsInstance,
  ) {
    this.dir = path.join(sb.dir, 'ovn');
    this.nbSock = path.join(this.dir, 'ovnnb_db.sock');
    this.sbSock = path.join(this.dir, 'ovnsb_db.sock');
    this.env = { OVN_RUNDIR: this.dir, OVN_LOGDIR: this.dir, OVN_DBDIR: this.dir, ...ovs.env };
    this.chassis = `chassis-${sb.id}`;
  }

  private async startDb(
    name: 'ovnnb_db' | 'ovnsb_db',
    schema: string,
    sock: string,
  ): Promise<void> {
    const db = path.join(this.dir, `${name}.db`);
    await this.sb.runner.run(['ovsdb-tool', 'create', db, schema]);
    const pidfile = path.join(this.dir, `${name}.pid`);
    await this.sb.runner.run(
      [
        'ovsdb-server',
        db,
        `--remote=punix:${sock}`,
        `--pidfile=${pidfile}`,
        `--unixctl=${path.join(this.dir, `${name}.ctl`)}`,
        `--log-file=${path.join(this.dir, `${name}.log`)}`,
        '--detach',
        '--no-chdir',
      ],
      { env: this.env },
    );
    this.sb.registry.add({ kind: 'pidfile', path: pidfile, what: `${name} ovsdb-server` });
  }

  private async startDaemon(argv: readonly string[], name: string, unixctl = true): Promise<void> {
    const pidfile = path.join(this.dir, `${name}.pid`);
    await this.sb.runner.run(
      [
        ...argv,
        `--pidfile=${pidfile}`,
        // ovn-controller has no --unixctl: its socket is $OVN_RUNDIR/ovn-controller.<pid>.ctl.
        ...(unixctl ? [`--unixctl=${path.join(this.dir, `${name}.ctl`)}`] : []),
        `--log-file=${path.join(this.dir, `${name}.log`)}`,
        '--detach',
        '--no-chdir',
      ],
      { env: this.env },
    );
    this.sb.registry.add({ kind: 'pidfile', path: pidfile, what: name });
  }

  async start(): Promise<void> {
    await files.mkdir(this.dir);
    await this.startDb('ovnnb_db', NB_SCHEMA, this.nbSock);
    await this.startDb('ovnsb_db', SB_SCHEMA, this.sbSock);
    await this.nbctl(['--no-wait', 'init']);
    await this.sb.runner.run(['ovn-sbctl', `--db=unix:${this.sbSock}`, 'init'], { env: this.env });
    await this.startDaemon(
      ['ovn-northd', `--ovnnb-db=unix:${this.nbSock}`, `--ovnsb-db=unix:${this.sbSock}`],
      'ovn-northd',
    );
    await this.ovs.vsctl([
      'set',
      'Open_vSwitch',
      '.',
      `external_ids:system-id=${this.chassis}`,
      `external_ids:ovn-remote=unix:${this.sbSock}`,
      'external_ids:ovn-encap-type=geneve',
      'external_ids:ovn-encap-ip=127.0.0.1',
      'external_ids:ovn-bridge-datapath-type=netdev',
    ]);
    // ovn-controller must run where ovs-vswitchd runs: it creates br-int's tap in that netns.
    await this.startDaemon(
      this.sb.inHost(['ovn-controller', this.ovs.dbTarget]),
      'ovn-controller',
      false,
    );
  }

  nbctl(args: readonly string[]): Promise<RunResult> {
    return this.sb.runner.run(['ovn-nbctl', `--db=unix:${this.nbSock}`, '--timeout=20', ...args], {
      env: this.env,
    });
  }

  /** A logical switch with a subnet (OVN needs addresses or "unknown" to forward). */
  async createSwitch(name: string): Promise<void> {
    await this.nbctl(['--may-exist', 'ls-add', name]);
  }

  /** A logical switch port as Kube-OVN names it (`<pod>.<ns>[.<provider>]`). */
  async addPort(sw: string, port: string, mac: string, ip: string): Promise<void> {
    await this.nbctl([
      '--may-exist',
      'lsp-add',
      sw,
      port,
      '--',
      'lsp-set-addresses',
      port,
      `${mac} ${ip}`,
    ]);
  }

  async deletePort(port: string): Promise<void> {
    await this.nbctl(['--if-exists', 'lsp-del', port]);
  }
}

export async function startOvn(sb: Sandbox, ovs: OvsInstance): Promise<OvnInstance> {
  const ovn = new OvnInstance(sb, ovs);
  await ovn.start();
  sb.logger.info({ sandbox: sb.id, nb: ovn.nbSock }, 'ovn started');
  return ovn;
}
