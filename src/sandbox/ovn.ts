import * as path from 'node:path';
import { files, type RunResult } from '../sys/index.js';
import type { OvsInstance } from './ovs.js';
import type { Sandbox } from './sandbox.js';

const NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema';

/** ovn-encap-ip: on the sandbox's tunnel interface, inside its host netns (no clash across sandboxes). */
export const SANDBOX_ENCAP_IP = '100.64.0.1';

export interface OvnOptions {
  /**
   * MTU of the tunnel interface holding ovn-encap-ip (default 1500, a plain Ethernet node:
   * Kube-OVN's Geneve overlay then gives pods 1400).
   */
  encapMtu?: number;
  /** ovn-encap-type (default geneve, Kube-OVN's default network type). */
  encapType?: 'geneve' | 'vxlan' | 'stt';
}
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
  /** The tunnel interface holding ovn-encap-ip, in the sandbox host netns. */
  readonly encapLink: string;
  readonly encapIp = SANDBOX_ENCAP_IP;
  readonly encapMtu: number;
  readonly encapType: string;

  constructor(
    private readonly sb: Sandbox,
    readonly ovs: OvsInstance,
    opts: OvnOptions = {},
  ) {
    this.dir = path.join(sb.dir, 'ovn');
    this.nbSock = path.join(this.dir, 'ovnnb_db.sock');
    this.sbSock = path.join(this.dir, 'ovnsb_db.sock');
    this.env = { OVN_RUNDIR: this.dir, OVN_LOGDIR: this.dir, OVN_DBDIR: this.dir, ...ovs.env };
    this.chassis = `chassis-${sb.id}`;
    this.encapLink = `o${sb.id}t0`;
    this.encapMtu = opts.encapMtu ?? 1500;
    this.encapType = opts.encapType ?? 'geneve';
  }

  /**
   * The node's tunnel interface as Kube-OVN finds it (the one holding the encap IP), with a
   * chosen MTU: one end of a veth pair (no dummy driver in these kernels) with a /30, its
   * partner up beside it so the link has carrier. Both die with the sandbox netns.
   */
  private async addEncapLink(): Promise<void> {
    const mtu = String(this.encapMtu);
    const peer = `o${this.sb.id}t1`;
    await this.sb.ip.batch({ name: this.sb.hostNetns }, [
      ['link', 'add', this.encapLink, 'mtu', mtu, 'type', 'veth', 'peer', 'name', peer, 'mtu', mtu],
      ['addr', 'add', `${this.encapIp}/30`, 'dev', this.encapLink],
      ['link', 'set', peer, 'up'],
      ['link', 'set', this.encapLink, 'up'],
    ]);
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
    await this.addEncapLink();
    await this.ovs.vsctl([
      'set',
      'Open_vSwitch',
      '.',
      `external_ids:system-id=${this.chassis}`,
      `external_ids:ovn-remote=unix:${this.sbSock}`,
      `external_ids:ovn-encap-type=${this.encapType}`,
      `external_ids:ovn-encap-ip=${this.encapIp}`,
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
    await this.lspAdd(sw, port, `${mac} ${ip}`);
  }

  /** A port that forwards any address ("unknown"): the VF brings its own MAC and IP. */
  async addUnknownPort(sw: string, port: string): Promise<void> {
    await this.lspAdd(sw, port, 'unknown');
  }

  private async lspAdd(sw: string, port: string, addresses: string): Promise<void> {
    await this.nbctl([
      '--may-exist',
      'lsp-add',
      sw,
      port,
      '--',
      'lsp-set-addresses',
      port,
      addresses,
    ]);
  }

  async deletePort(port: string): Promise<void> {
    await this.nbctl(['--if-exists', 'lsp-del', port]);
  }
}

export async function startOvn(
  sb: Sandbox,
  ovs: OvsInstance,
  opts: OvnOptions = {},
): Promise<OvnInstance> {
  const ovn = new OvnInstance(sb, ovs, opts);
  await ovn.start();
  sb.logger.info({ sandbox: sb.id, nb: ovn.nbSock }, 'ovn started');
  return ovn;
}
