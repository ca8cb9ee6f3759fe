import * as path from 'node:path';
import {
  files,
  isAlive,
  packageRoot,
  requestJsonLine,
  sleep,
  spawnDetached,
} from '../../sys/index.js';
import { limboNetnsName, nicNames } from '../names.js';
import type { Pod, Sandbox } from '../sandbox.js';
import { IDENTITIES, type IdentityName } from './identity.js';
import type { CallRecord, Fault, NicDaemonConfig, NicStateView } from './protocol.js';

export interface EmulateNicOptions {
  identity?: IdentityName;
  /** Number of PFs (ports) of the NIC. */
  pfs?: number;
  /** sriov_numvfs at start, per PF. */
  vfsPerPf?: number;
  totalVfs?: number;
  eswitchMode?: 'legacy' | 'switchdev';
  /** numa_node per PF (-1 = none). */
  numa?: number[];
  /** sriov_drivers_autoprobe (default true). */
  autoprobe?: boolean;
}

async function findReal(tool: string, exclude: string): Promise<string | null> {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const d of dirs) {
    if (!d || d === exclude) continue;
    const p = path.join(d, tool);
    if (await files.exists(p)) {
      const body = await files.readTextOrNull(p);
      if (body?.includes('ovs-offload sandbox stand-in')) continue;
      return p;
    }
  }
  return null;
}

/**
 * An emulated SR-IOV NIC in a sandbox (see docs/architecture.md, "What is emulated"): a
 * sysfs tree under `sysfsRoot`, veth pairs in the sandbox host netns, a daemon that acts on
 * sysfs writes, and devlink/ip/ethtool stand-ins in `binDir` (put it first on PATH).
 */
export class EmulatedNic {
  readonly dir: string;
  readonly sysfsRoot: string;
  readonly binDir: string;
  readonly sock: string;

  constructor(
    private readonly sb: Sandbox,
    readonly config: NicDaemonConfig,
  ) {
    this.dir = config.dir;
    this.sysfsRoot = config.sysfsRoot;
    this.binDir = path.join(config.dir, 'bin');
    this.sock = path.join(config.dir, 'nicd.sock');
  }

  /** PATH with the stand-ins first, for processes that manage this NIC. */
  get path(): string {
    return `${this.binDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`;
  }

  uplink(pf: number): string {
    return nicNames.uplink(this.sb.id, pf);
  }

  /** The far end of the physical port: `ip link set <wire> down` pulls the cable. */
  wire(pf: number): string {
    return nicNames.wire(this.sb.id, pf);
  }

  private async request(req: unknown, timeoutMs = 60_000): Promise<unknown> {
    return requestJsonLine(this.sock, req, timeoutMs);
  }

  async state(): Promise<NicStateView> {
    return (await this.request({ op: 'state' })) as NicStateView;
  }

  async calls(tool?: CallRecord['tool']): Promise<CallRecord[]> {
    const all = (await this.request({ op: 'calls' })) as CallRecord[];
    return tool ? all.filter((c) => c.tool === tool) : all;
  }

  async clearCalls(): Promise<void> {
    await this.request({ op: 'clearCalls' });
  }

  async setFault(fault: Fault): Promise<void> {
    await this.request({ op: 'fault', fault });
  }

  /** Waits until every pending sysfs write and link event has been acted on. */
  async sync(timeoutMs = 60_000): Promise<void> {
    await this.request({ op: 'sync' }, timeoutMs);
  }

  /**
   * Deletes a pod's netns as a container runtime would. Real VFs come back to the host (under
   * their in-pod name, or dev<ifindex> if taken); veth pairs would die, so the daemon re-creates
   * them that way. Returns the names the VFs came back under.
   */
  async destroyPodNetns(pod: Pod): Promise<string[]> {
    return (await this.request({ op: 'destroyPodNetns', netns: pod.netns })) as string[];
  }
}

export async function emulateNic(sb: Sandbox, opts: EmulateNicOptions = {}): Promise<EmulatedNic> {
  const identity = IDENTITIES[opts.identity ?? 'mlx5'];
  const dir = path.join(sb.dir, 'nic');
  const binDir = path.join(dir, 'bin');
  const liveSys = path.join(dir, 'live-sys');
  const sysfsRoot = path.join(dir, 'root');
  await files.mkdir(binDir);
  await files.mkdir(liveSys);
  await files.mkdir(sysfsRoot);

  const limbo = limboNetnsName(sb.id);
  await sb.runner.run(['ip', 'netns', 'add', limbo]);
  sb.registry.add({ kind: 'netns', name: limbo });
  // A sysfs mounted from inside the host netns shows that netns's devices with live state.
  await sb.runner.run(sb.inHost(['mount', '-t', 'sysfs', 'sysfs', liveSys]));
  sb.registry.add({ kind: 'mount', path: liveSys });

  const realIp = await findReal('ip', binDir);
  if (!realIp) throw new Error('iproute2 `ip` not found');
  const realDevlink = (await findReal('devlink', binDir)) ?? '/usr/sbin/devlink';
  const realEthtool = await findReal('ethtool', binDir);
  const npf = opts.pfs ?? 1;
  const config: NicDaemonConfig = {
    id: sb.id,
    dir,
    sysfsRoot,
    liveSys,
    hostNetns: sb.hostNetns,
    limboNetns: limbo,
    realIp,
    realEthtool,
    identity: identity.name,
    eswitchMode: opts.eswitchMode ?? 'switchdev',
    bus: 0x03,
    pfs: Array.from({ length: npf }, (_, i) => ({
      numVfs: opts.vfsPerPf ?? 4,
      totalVfs: opts.totalVfs ?? identity.totalVfs,
      numa: opts.numa?.[i] ?? 0,
    })),
    autoprobe: opts.autoprobe ?? true,
    switchId: `${sb.id}00000000000`.slice(0, 16).replace(/[^0-9a-f]/g, 'e'),
  };
  const configPath = path.join(dir, 'config.json');
  await files.writeText(configPath, JSON.stringify(config, null, 2));

  const standin = path.join(packageRoot(), 'dist', 'nic-standin.js');
  const nicd = path.join(packageRoot(), 'dist', 'nicd.js');
  if (!(await files.exists(nicd)) || !(await files.exists(standin))) {
    throw new Error(`${nicd} is missing: run \`npm run build\` first`);
  }
  const node = process.execPath;
  const header = `#!/bin/sh\n# ovs-offload sandbox stand-in (sandbox ${sb.id}): emulated NIC calls go to ${dir}/nicd.sock\n`;
  const pfNames = config.pfs.map((_, i) => nicNames.uplink(sb.id, i)).join('|');
  const ipStandin = `exec "${node}" "${standin}" ip "${dir}/nicd.sock" "${realIp}" "$@"`;
  // ip goes to the stand-in when it names a PF (VF knobs, vfinfo) or when its own options
  // (those before the object) ask for details: -d/-details in any prefix, as ip.c matches
  // them (the kernel's parentbus/parentdev). Options taking a value skip it.
  const ipScript = [
    'details() {',
    '  while [ $# -gt 0 ]; do',
    '    case "$1" in',
    '      -d|-de*|--d|--de*) return 0 ;;',
    '      -n|-ne*|--n|--ne*|-b|-ba*|--b|--ba*|-f|-fa*|--f|--fa*|-l|-lo*|--l|--lo*|-rc*|--rc*) [ $# -gt 1 ] && shift ;;',
    '      --) return 1 ;;',
    '      -*) ;;',
    '      *) return 1 ;;',
    '    esac',
    '    shift',
    '  done',
    '  return 1',
    '}',
    `if details "$@"; then ${ipStandin}; fi`,
    'for a in "$@"; do',
    '  case "$a" in',
    `    ${pfNames}) ${ipStandin} ;;`,
    '  esac',
    'done',
    `exec "${realIp}" "$@"`,
    '',
  ].join('\n');
  await files.writeText(
    path.join(binDir, 'devlink'),
    `${header}exec "${node}" "${standin}" devlink "${dir}/nicd.sock" "${realDevlink}" "$@"\n`,
  );
  await files.writeText(path.join(binDir, 'ip'), `${header}${ipScript}`);
  await files.writeText(
    path.join(binDir, 'ethtool'),
    `${header}for a in "$@"; do\n  case "$a" in\n    o${sb.id}p*) exec "${node}" "${standin}" ethtool "${dir}/nicd.sock" "${realEthtool ?? 'ethtool'}" "$@" ;;\n  esac\ndone\nexec "${realEthtool ?? 'ethtool'}" "$@"\n`,
  );
  for (const t of ['devlink', 'ip', 'ethtool']) await files.chmod(path.join(binDir, t), 0o755);

  const pid = spawnDetached([node, nicd, configPath], path.join(dir, 'nicd.log'));
  sb.registry.add({ kind: 'pid', pid, what: 'nic daemon' });
  const nic = new EmulatedNic(sb, config);
  for (let i = 0; i < 400; i++) {
    if (!isAlive(pid)) break;
    const ok = await requestJsonLine(nic.sock, { op: 'ping' }, 2000).catch(() => null);
    if (ok === 'pong') {
      sb.logger.info({ sandbox: sb.id, sysfsRoot }, 'emulated NIC ready');
      return nic;
    }
    await sleep(25);
  }
  const log = (await files.readTextOrNull(path.join(dir, 'nicd.log'))) ?? '';
  throw new Error(
    `emulated NIC daemon did not start: ${log.trim().split('\n').slice(-5).join(' | ')}`,
  );
}
