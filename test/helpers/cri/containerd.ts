import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { CriClient } from './client.js';

/**
 * A private containerd (Debian's 1.6) with the CRI plugin, as a node runs it for kubelet, but
 * with its own --root/--state/--address and config under one directory, started in a given
 * network namespace (the sandbox's host netns: hostNetwork pods share it). Each runtime
 * handler has its own `cni_conf_dir`: without Multus, that is how a pod gets a conflist
 * naming its VF's `deviceID`.
 */
export interface ContainerdOptions {
  dir: string;
  /** /var/run/netns/<name> the daemon (and so every hostNetwork pod) runs in. */
  netns: string;
  /** CRI sandbox_image: a local image imported into namespace k8s.io. */
  sandboxImage: string;
  /** CNI bin_dir (ovs-offload-cni is installed here by the DaemonSet's init container). */
  cniBinDir: string;
  /** Runtime handler name → its cni_conf_dir. */
  handlers: Record<string, string>;
}

export class Containerd {
  readonly socket: string;
  readonly root: string;
  readonly state: string;
  readonly log: string;
  private proc: ChildProcess | null = null;

  constructor(readonly opts: ContainerdOptions) {
    this.socket = path.join(opts.dir, 'containerd.sock');
    this.root = path.join(opts.dir, 'root');
    this.state = path.join(opts.dir, 'state');
    this.log = path.join(opts.dir, 'containerd.log');
  }

  config(): string {
    const { opts } = this;
    const cri = 'plugins."io.containerd.grpc.v1.cri"';
    const runtimes = Object.entries({ runc: path.join(opts.dir, 'net.d-none'), ...opts.handlers })
      .map(
        ([name, confDir]) =>
          `[${cri}.containerd.runtimes.${name}]\n` +
          `  runtime_type = "io.containerd.runc.v2"\n` +
          `  cni_conf_dir = ${JSON.stringify(confDir)}\n` +
          `  cni_max_conf_num = 1\n`,
      )
      .join('');
    return [
      'version = 2',
      `root = ${JSON.stringify(this.root)}`,
      `state = ${JSON.stringify(this.state)}`,
      // Snapshotters a VM cannot run would only log errors at start.
      'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]',
      '[grpc]',
      `  address = ${JSON.stringify(this.socket)}`,
      '[ttrpc]',
      `  address = ${JSON.stringify(`${this.socket}.ttrpc`)}`,
      '[debug]',
      '  level = "info"',
      `[plugins."io.containerd.internal.v1.opt"]`,
      `  path = ${JSON.stringify(path.join(opts.dir, 'opt'))}`,
      `[${cri}]`,
      `  sandbox_image = ${JSON.stringify(opts.sandboxImage)}`,
      // The VM lacks CAP_SYS_RESOURCE: lowering oom_score_adj is all a container may do.
      '  restrict_oom_score_adj = true',
      '  disable_apparmor = true',
      '  enable_selinux = false',
      '  stream_server_address = "127.0.0.1"',
      '  stream_server_port = "0"',
      `[${cri}.containerd]`,
      '  snapshotter = "overlayfs"',
      '  default_runtime_name = "runc"',
      `[${cri}.cni]`,
      `  bin_dir = ${JSON.stringify(opts.cniBinDir)}`,
      `  conf_dir = ${JSON.stringify(path.join(opts.dir, 'net.d-none'))}`,
      '  max_conf_num = 1',
      runtimes,
    ].join('\n');
  }

  async start(): Promise<CriClient> {
    const { opts } = this;
    await mkdir(path.join(opts.dir, 'net.d-none'), { recursive: true });
    for (const d of Object.values(opts.handlers)) await mkdir(d, { recursive: true });
    const configFile = path.join(opts.dir, 'config.toml');
    await writeFile(configFile, this.config());
    const out = openSync(this.log, 'a');
    // nsenter, not `ip netns exec`: only the network namespace changes, so containerd's
    // mounts (rootfs, netns pins) are the host's, as on a node.
    this.proc = spawn(
      'nsenter',
      [`--net=/var/run/netns/${opts.netns}`, 'containerd', '--config', configFile],
      { stdio: ['ignore', out, out] },
    );
    const cri = new CriClient(this.socket);
    const start = Date.now();
    for (;;) {
      if (this.proc.exitCode !== null) throw new Error(`containerd exited:\n${this.tail()}`);
      if (existsSync(this.socket)) {
        try {
          await cri.version();
          const st = await cri.status();
          const conds =
            (st.status as { conditions?: { type: string; status: boolean }[] })?.conditions ?? [];
          if (conds.some((c) => c.type === 'RuntimeReady' && c.status)) return cri;
        } catch {
          // not serving CRI yet
        }
      }
      if (Date.now() - start > 30_000) throw new Error(`containerd not ready:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  tail(lines = 30): string {
    return existsSync(this.log)
      ? readFileSync(this.log, 'utf8').trim().split('\n').slice(-lines).join('\n')
      : '';
  }

  /** `ctr` against this daemon, argv after the global flags. */
  ctr(args: string[], opts: { timeoutMs?: number } = {}): { code: number; out: string } {
    const r = spawnSync('ctr', ['--address', this.socket, ...args], {
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 120_000,
    });
    return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  }

  /** The shims this daemon started (their -address names our socket). */
  shimPids(): number[] {
    const pids: number[] = [];
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
        if (argv[0]?.includes('containerd-shim') && argv.includes(this.socket)) pids.push(+e);
      } catch {
        // gone
      }
    }
    return pids;
  }

  /** Mounts under our root/state (rootfs overlays, sandbox shm), deepest first. */
  mounts(): string[] {
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m.startsWith(this.opts.dir + '/'))
      .sort((a, b) => b.length - a.length);
  }

  /** Stops the daemon, then whatever it left: shims (and their containers), mounts. */
  async stop(): Promise<string[]> {
    const left: string[] = [];
    if (this.proc && this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc!.once('exit', r));
      this.proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
    }
    for (const pid of this.shimPids()) {
      left.push(`shim ${pid}`);
      killTree(pid);
    }
    for (const m of this.mounts()) {
      left.push(`mount ${m}`);
      spawnSync('umount', ['-l', m]);
    }
    return left;
  }
}

/** SIGKILL a process and its descendants (a shim and the container it runs). */
function killTree(pid: number): void {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      // gone
    }
  }
  const todo = [pid];
  for (let p = todo.pop(); p !== undefined; p = todo.pop()) {
    todo.push(...(children.get(p) ?? []));
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
}
