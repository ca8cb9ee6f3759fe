import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify, parse } from 'yaml';
import type { CriClient } from '../helpers/cri/client.js';
import { Containerd } from '../helpers/cri/containerd.js';
import { buildTestImages, PAUSE_IMAGE, WORKLOAD_IMAGE } from '../helpers/cri/images.js';
import {
  configMapData,
  containerConfig,
  httpProbe,
  parseDaemonSet,
  podSandboxConfig,
  type ParsedDaemonSet,
} from '../helpers/cri/manifest.js';
import { eventually, externalIds, newNode, type Node } from '../helpers/sandbox.js';

/**
 * The DaemonSet's pod run by a real containerd 1.6 through CRI, as kubelet would run it:
 * deploy/20-daemonset.yaml parsed and translated field by field (RunPodSandbox with the
 * host's network and PID namespaces, the install-cni init container, then the agent), our
 * image from `npm run build:image` imported into namespace k8s.io, against a sandbox node
 * (real OVS/OVN, emulated switchdev NIC). Then workload pods through the same CRI with a
 * Multus-style conflist per runtime handler (one handler per VF: each pod's deviceID), and
 * `ctr run --cni` (no CNI_ARGS at all) against the same daemon.
 *
 * A node differs from the manifest only in: the ConfigMap content (the sandbox's nics[],
 * no kubernetes section), the `sys` hostPath (the emulated sysfs), PATH and mounts for the
 * NIC stand-ins, and where the other hostPaths live (a temp dir per node).
 */

const repo = path.resolve(import.meta.dirname, '../..');
const IMAGE_TAR = path.join(repo, 'dist/image/ovs-offload.oci.tar');
const MANIFEST = path.join(repo, 'deploy/20-daemonset.yaml');
const CONFIG_MANIFEST = path.join(repo, 'deploy/10-agent-config.yaml');
const SRIOVDP_MANIFEST = path.join(repo, 'deploy/11-sriovdp-config.yaml');
const NS = 'default';
const NET = 'sriov-net1';
const SUBNET = '10.77.0.0/24';

interface Ctx {
  node: Node;
  ctd: Containerd;
  cri: CriClient;
  dir: string;
  ds: ParsedDaemonSet;
  hostDirs: Map<string, string>;
  agentPod: string;
  agentCtr: string;
  cniSocket: string;
  netnsBefore: Set<string>;
  timings: Record<string, number>;
}
let ctx: Ctx | null = null;
const started = Date.now();

function run(argv: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}) {
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
    env: { ...process.env, ...opts.env },
  });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/**
 * What the image is built from, hashed: the archive is stale when this changed since it was
 * last built or checked here (a rebuild of dist/ with the same content does not count).
 */
const IMAGE_INPUTS = [
  'package.json',
  'dist/cli.js',
  'dist/ovs-offload-cni',
  'dist/ovs-offload-cni.cjs',
  'scripts/image',
  'scripts/build-image.mjs',
  'deploy/Dockerfile',
  'scripts/image/packages.lock.json',
];
const IMAGE_STAMP = path.join(repo, 'dist/image/.cri-test-inputs.sha256');
function imageInputsHash(): string {
  const h = createHash('sha256');
  const walk = (p: string) => {
    if (!existsSync(p)) return;
    if (statSync(p).isDirectory()) for (const e of readdirSyncSafe(p).sort()) walk(path.join(p, e));
    else h.update(`${path.relative(repo, p)}\0`).update(readFileSync(p));
  };
  for (const p of IMAGE_INPUTS) walk(path.join(repo, p));
  return h.digest('hex');
}
function imageIsFresh(hash: string): boolean {
  if (!existsSync(IMAGE_TAR)) return false;
  if (existsSync(IMAGE_STAMP)) return readFileSync(IMAGE_STAMP, 'utf8').trim() === hash;
  // No stamp yet: an archive newer than every input is taken as built from them.
  let newest = 0;
  const walk = (p: string) => {
    if (!existsSync(p)) return;
    const s = statSync(p);
    if (s.isDirectory()) for (const e of readdirSyncSafe(p)) walk(path.join(p, e));
    else newest = Math.max(newest, s.mtimeMs);
  };
  for (const p of IMAGE_INPUTS) walk(path.join(repo, p));
  return statSync(IMAGE_TAR).mtimeMs >= newest;
}
function readdirSyncSafe(p: string): string[] {
  try {
    return readdirSync(p);
  } catch {
    return [];
  }
}

/** HTTP GET from the node's netns (where hostNetwork probes run): the status code, 0 if none. */
function probe(node: Node, url: string, timeoutS: number): number {
  const get =
    'require("http").get(process.argv[1], { timeout: Number(process.argv[2]) * 1000 }, (r) => {' +
    ' console.log("HTTP " + r.statusCode); r.resume(); }).on("error", () => console.log("HTTP 0"))' +
    '.on("timeout", function () { this.destroy(); });';
  const r = run(
    [
      'nsenter',
      `--net=/var/run/netns/${node.sb.hostNetns}`,
      process.execPath,
      '-e',
      get,
      url,
      String(timeoutS),
    ],
    { timeoutMs: (timeoutS + 5) * 1000 },
  );
  const m = /HTTP (\d+)/.exec(r.out);
  return m ? Number(m[1]) : 0;
}

function netnsPins(): Set<string> {
  return new Set(existsSync('/var/run/netns') ? readdirSyncSafe('/var/run/netns') : []);
}

beforeAll(async () => {
  const timings: Record<string, number> = {};
  // Our image, from the repository: built when missing or older than its inputs.
  let t = Date.now();
  // OVS_OFFLOAD_IMAGE_REBUILD=never takes the archive as it is (while editing the test).
  const reuse = process.env.OVS_OFFLOAD_IMAGE_REBUILD === 'never' && existsSync(IMAGE_TAR);
  if (!reuse && !imageIsFresh(imageInputsHash())) {
    // The lock's exactness is test/unit/image-lock.test.ts's job; here a Debian point release
    // (a pinned version gone from the mirror) must not stop the run: the build warns loudly.
    const r = run(['npm', 'run', '--silent', 'build:image', '--', '--allow-lock-drift'], {
      timeoutMs: 900_000,
    });
    if (r.code !== 0) throw new Error(`npm run build:image failed:\n${r.out.slice(-3000)}`);
  }
  // After the build, which may have rebuilt dist/ first.
  await writeFile(IMAGE_STAMP, `${imageInputsHash()}\n`);
  timings.imageBuild = Date.now() - t;

  const node = await newNode({ ovn: true, nic: { identity: 'mlx5', vfsPerPf: 4 } });
  const { sb, ovs, nic } = node;
  const dir = path.join(sb.dir, 'cri');
  const hostDirs = new Map<string, string>();
  const host = (name: string) => {
    const d = path.join(dir, 'host', name.replace(/^\//, '').replaceAll('/', '-'));
    hostDirs.set(name, d);
    return d;
  };
  // The node's host directories the DaemonSet mounts (kubelet creates DirectoryOrCreate ones;
  // the test creates the Directory ones a node has).
  const ds = parseDaemonSet(MANIFEST);
  for (const [, v] of ds.volumes) {
    const hp = v.hostPath as { path: string } | undefined;
    if (!hp) continue;
    if (hp.path === '/sys') hostDirs.set(hp.path, path.join(nic.sysfsRoot, 'sys'));
    else if (hp.path === '/run/openvswitch') hostDirs.set(hp.path, ovs.dir);
    // CNI_NETNS paths must mean the same inside the agent as on the host: the real dir,
    // symlink resolved (containerd requires a HostToContainer source on a shared or slave
    // mount; `ip netns` makes /run/netns one, while / is private on this VM, unlike systemd's).
    else if (hp.path === '/var/run/netns') hostDirs.set(hp.path, realpathSync(hp.path));
    else await mkdir(host(hp.path), { recursive: true });
  }
  const cniBin = hostDirs.get('/opt/cni/bin')!;
  for (const p of ['loopback', 'host-local'])
    await copyFile(`/usr/lib/cni/${p}`, path.join(cniBin, p));

  // ConfigMaps: the shipped content, with the sandbox's NICs and no Kubernetes API.
  const agentYaml = parse(
    configMapData(CONFIG_MANIFEST).get('ovs-offload-config')!['agent.yaml']!,
  ) as Record<string, unknown>;
  agentYaml.nics = [{ pci: '0000:03:00.0', numVfs: 4, eswitchMode: 'switchdev' }];
  delete agentYaml.kubernetes;
  const cmDirs = new Map<string, string>();
  const writeCm = async (name: string, data: Record<string, string>) => {
    const d = path.join(dir, 'configmaps', name);
    await mkdir(d, { recursive: true });
    for (const [k, v] of Object.entries(data)) await writeFile(path.join(d, k), v);
    cmDirs.set(name, d);
  };
  await writeCm('ovs-offload-config', { 'agent.yaml': stringify(agentYaml) });
  await writeCm(
    'ovs-offload-sriovdp-config',
    configMapData(SRIOVDP_MANIFEST).get('ovs-offload-sriovdp-config')!,
  );

  // containerd in the node's netns, one runtime handler per VF with its own conflist dir.
  const handlers: Record<string, string> = {};
  for (let i = 0; i < 3; i++) handlers[`vf${i}`] = path.join(dir, `net.d-vf${i}`);
  t = Date.now();
  const images = await buildTestImages(dir);
  timings.testImages = Date.now() - t;
  const ctd = new Containerd({
    dir: path.join(dir, 'containerd'),
    netns: sb.hostNetns,
    sandboxImage: PAUSE_IMAGE,
    cniBinDir: cniBin,
    handlers,
  });
  await mkdir(ctd.opts.dir, { recursive: true });
  t = Date.now();
  const cri = await ctd.start();
  timings.containerdStart = Date.now() - t;
  const netnsBefore = netnsPins();
  ctx = {
    node,
    ctd,
    cri,
    dir,
    ds,
    hostDirs,
    agentPod: '',
    agentCtr: '',
    cniSocket: path.join(hostDirs.get('/run/ovs-offload')!, 'cni.sock'),
    netnsBefore,
    timings,
  };
  t = Date.now();
  for (const [tar, ns] of [
    [IMAGE_TAR, 'k8s.io'],
    [images.pause, 'k8s.io'],
    [images.workload, 'k8s.io'],
    [images.workload, 'default'],
  ] as const) {
    const r = ctd.ctr(['-n', ns, 'images', 'import', tar], { timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`ctr images import ${tar}: ${r.out}`);
  }
  timings.imageImport = Date.now() - t;
}, 900_000);

// Best effort, never throwing: the sandbox helper's own cleanup (and its leak check) must
// still run. The leak checks proper are the last test's.
afterAll(async () => {
  if (!ctx) return;
  const { cri, ctd } = ctx;
  try {
    for (const s of await cri.listPodSandbox().catch(() => [])) {
      await cri.stopPodSandbox(s.id as string).catch(() => undefined);
      await cri.removePodSandbox(s.id as string).catch(() => undefined);
    }
  } finally {
    cri.close();
    await ctd.stop().catch(() => undefined);
    for (const n of newPins(ctx.netnsBefore)) run(['ip', 'netns', 'delete', n]);
  }
  console.error(
    `cri-daemonset: ${((Date.now() - started) / 1000).toFixed(1)} s in all; timings ms ${JSON.stringify(ctx.timings)}; CRI calls: ${summarize(cri.calls.map((c) => c.method))}`,
  );
}, 300_000);

/** netns pins containerd made (cni-<uuid>) since the test began. */
function newPins(before: Set<string>): string[] {
  return [...netnsPins()].filter((n) => !before.has(n) && n.startsWith('cni-'));
}

function summarize(methods: string[]): string {
  const n = new Map<string, number>();
  for (const m of methods) n.set(m, (n.get(m) ?? 0) + 1);
  return [...n].map(([m, c]) => `${m}×${c}`).join(' ');
}

async function waitExited(cri: CriClient, id: string, timeoutMs: number) {
  return eventually(
    async () => {
      const st = await cri.containerStatus(id);
      return st.state === 'CONTAINER_EXITED' ? st : null;
    },
    timeoutMs,
    `container ${id} exited`,
  );
}

function containerLog(p: string): string {
  return existsSync(p) ? readFileSync(p, 'utf8') : '(no log)';
}

describe('the DaemonSet pod under containerd (CRI), and pods it serves', () => {
  it('runs install-cni, then the agent; /livez and /healthz answer as the probes ask', async () => {
    const c = ctx!;
    const { cri, ds, node } = c;
    const logDir = path.join(c.dir, 'pod-logs', 'agent');
    await mkdir(logDir, { recursive: true });
    const sandboxConfig = podSandboxConfig(ds, {
      name: 'ovs-offload-test',
      namespace: 'kube-system',
      uid: `uid-${node.sb.id}`,
      logDirectory: logDir,
    });
    let t = Date.now();
    c.agentPod = await cri.runPodSandbox(sandboxConfig);
    c.timings.agentSandbox = Date.now() - t;
    const sources = {
      hostPath: (_v: string, p: string) => {
        const d = c.hostDirs.get(p);
        if (!d) throw new Error(`hostPath ${p}: not mapped`);
        return d;
      },
      configMap: (_v: string, name: string) => path.join(c.dir, 'configmaps', name),
    };
    const fieldRefs = { 'spec.nodeName': `node-${node.sb.id}` };

    // The init container, as the manifest has it.
    const init = ds.initContainers.find((x) => x.name === 'install-cni')!;
    const initCfg = containerConfig(ds, init, {
      sources,
      fieldRefs,
      logPath: 'install-cni.log',
    });
    t = Date.now();
    const initId = await cri.createContainer(c.agentPod, initCfg, sandboxConfig);
    await cri.startContainer(initId);
    const initSt = await waitExited(cri, initId, 60_000);
    c.timings.installCni = Date.now() - t;
    const initLog = containerLog(path.join(logDir, 'install-cni.log'));
    expect(initSt?.exit_code, initLog).toBe(0);
    expect(initLog).toContain(`installed /host/opt/cni/bin/ovs-offload-cni`);
    const installed = path.join(c.hostDirs.get('/opt/cni/bin')!, 'ovs-offload-cni');
    expect((await stat(installed)).mode & 0o777).toBe(0o755);
    expect((await stat(`${installed}-node`)).mode & 0o777).toBe(0o755);
    const version = run([installed], { env: { CNI_COMMAND: 'VERSION' } });
    expect(version.out).toContain('"supportedVersions"');

    // The agent, as the manifest has it; the NIC stand-ins need the host node, our dist/,
    // the emulator's socket dir and the real tools they pass through to.
    const agent = ds.containers.find((x) => x.name === 'agent')!;
    const nic = node.nic;
    const nicBin = nic.path.split(':')[0]!;
    const nicDir = path.dirname(nicBin);
    const standinScript = readFileSync(path.join(nicBin, 'ip'), 'utf8');
    const realTools = [...standinScript.matchAll(/"(\/[^"]+\/(?:ip|devlink|ethtool))"/g)].map(
      (m) => m[1]!,
    );
    const devlinkScript = readFileSync(path.join(nicBin, 'devlink'), 'utf8');
    const ethtoolScript = readFileSync(path.join(nicBin, 'ethtool'), 'utf8');
    for (const s of [devlinkScript, ethtoolScript])
      for (const m of s.matchAll(/"(\/[^"]+\/(?:devlink|ethtool))"/g)) realTools.push(m[1]!);
    const ro = (p: string) => ({ container_path: p, host_path: p, readonly: true });
    const agentCfg = containerConfig(ds, agent, {
      sources,
      fieldRefs,
      logPath: 'agent.log',
      extraEnv: {
        PATH: `${nicBin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      },
      extraMounts: [
        // CNI_PATH is the runtime's bin_dir, and the agent runs IPAM plugins from it: on a
        // node that is /opt/cni/bin, mounted at the same path; here it is a temp dir.
        ro(c.hostDirs.get('/opt/cni/bin')!),
        { container_path: nicDir, host_path: nicDir, readonly: false },
        ro(process.execPath),
        ro(path.join(repo, 'dist')),
        ...[...new Set(realTools)].map(ro),
      ],
    });
    t = Date.now();
    c.agentCtr = await cri.createContainer(c.agentPod, agentCfg, sandboxConfig);
    await cri.startContainer(c.agentCtr);
    const agentLog = () => containerLog(path.join(logDir, 'agent.log'));
    const startup = httpProbe(agent, 'startupProbe');
    // The startup probe's budget is minutes; a sandbox node with 4 VFs needs seconds.
    let last = 0;
    await eventually(
      async () => {
        const st = await cri.containerStatus(c.agentCtr);
        if (st.state === 'CONTAINER_EXITED') throw new Error(`agent exited:\n${agentLog()}`);
        last = probe(node, startup.url, startup.timeoutSeconds);
        return last === 200;
      },
      Math.min(startup.periodSeconds * startup.failureThreshold * 1000, 90_000),
      `startupProbe ${startup.url}`,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)} (HTTP ${last})\n${agentLog().slice(-6000)}`);
    });
    c.timings.agentReady = Date.now() - t;
    for (const which of ['livenessProbe', 'readinessProbe'] as const) {
      const pr = httpProbe(agent, which);
      expect(probe(node, pr.url, pr.timeoutSeconds), `${which} ${pr.url}\n${agentLog()}`).toBe(200);
    }
    expect(existsSync(c.cniSocket), agentLog()).toBe(true);
  }, 300_000);

  it('serves two CRI pods a VF each (one runtime handler per VF); they ping through OVN; Stop+Remove leave nothing', async () => {
    const c = ctx!;
    const { cri, node } = c;
    const { ovn, ovs, nic } = node;
    const vfs = (await nic.state()).pfs[0]!.vfs;
    await ovn!.createSwitch(NET);
    const pods: { name: string; id: string; ctr: string; vf: (typeof vfs)[number]; ip: string }[] =
      [];
    for (const [i, name] of ['web-a', 'web-b'].entries()) {
      const vf = vfs[i]!;
      // A Multus-style conflist for this handler's VF, at 1.0.0 (containerd 1.6's libcni
      // refuses 1.1.0 results).
      await writeFile(
        path.join(c.ctd.opts.handlers[`vf${i}`]!, '10-sriov.conflist'),
        JSON.stringify({
          cniVersion: '1.0.0',
          name: NET,
          plugins: [
            {
              type: 'ovs-offload-cni',
              server_socket: c.cniSocket,
              deviceID: vf.pci,
              ipam: { type: 'host-local', ranges: [[{ subnet: SUBNET }]] },
            },
          ],
        }),
      );
      // OVN binds the port by iface-id <pod>.<ns> (no provider in the config).
      await ovn!.addUnknownPort(NET, `${name}.${NS}`);
      const logDir = path.join(c.dir, 'pod-logs', name);
      await mkdir(logDir, { recursive: true });
      const sandboxConfig = {
        metadata: { name, namespace: NS, uid: `uid-${name}`, attempt: 0 },
        log_directory: logDir,
        linux: {},
      };
      const id = await cri.runPodSandbox(sandboxConfig, `vf${i}`);
      const st = await cri.podSandboxStatus(id);
      const ip = (st.network as { ip?: string } | null)?.ip ?? '';
      expect(ip).toMatch(/^10\.77\.0\.\d+$/);
      const ctr = await cri.createContainer(
        id,
        {
          metadata: { name: 'main', attempt: 0 },
          image: { image: WORKLOAD_IMAGE },
          log_path: 'main.log',
          linux: {},
        },
        sandboxConfig,
      );
      await cri.startContainer(ctr);
      pods.push({ name, id, ctr, vf, ip });
      const ids = await externalIds(ovs, 'Interface', vf.representor!);
      expect(ids).toMatchObject({
        'iface-id': `${name}.${NS}`,
        pod_name: name,
        pod_namespace: NS,
        'ovn-installed': 'true',
      });
      expect(ids.pod_netns).toMatch(/^\/var\/run\/netns\/cni-/);
    }
    const [a, b] = pods as [(typeof pods)[0], (typeof pods)[0]];
    const ping = await cri.execSync(a.ctr, ['/bin/busybox', 'ping', '-c', '2', '-W', '2', b.ip]);
    expect(ping.exitCode, ping.stdout + ping.stderr).toBe(0);
    expect(ping.stdout).toContain('2 packets received');
    const link = await cri.execSync(a.ctr, ['/bin/busybox', 'ip', 'link', 'show', 'eth0']);
    expect(link.stdout).toContain('eth0');

    // Stop + Remove: the VF comes home, the port, the lease and libcni's cache go.
    for (const p of pods) {
      await cri.stopPodSandbox(p.id);
      await cri.removePodSandbox(p.id);
    }
    await eventually(
      async () => {
        const st = (await nic.state()).pfs[0]!.vfs;
        return pods.every((p) => st.find((v) => v.pci === p.vf.pci)?.netdev === p.vf.netdev);
      },
      15_000,
      'VFs home under their own names',
    );
    const ports = (await ovs.vsctl(['list-ports', 'br-int'])).stdout;
    for (const p of pods) expect(ports).not.toContain(p.vf.representor!);
    const leases = path.join(c.hostDirs.get('/var/lib/cni')!, 'networks', NET);
    const held = existsSync(leases)
      ? (await readdir(leases)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f))
      : [];
    expect(held).toEqual([]);
    for (const p of pods) {
      const cache = `/var/lib/cni/results/${NET}-${p.id}-eth0`;
      expect(existsSync(cache), cache).toBe(false);
    }
    const state = await readdir(c.hostDirs.get('/var/lib/ovs-offload')!).catch(() => []);
    expect(
      state.filter((f) => f.endsWith('.json') && pods.some((p) => f.startsWith(p.id))),
    ).toEqual([]);
    expect(newPins(c.netnsBefore)).toEqual([]);
  }, 300_000);

  it('serves `ctr run --cni` (no CNI_ARGS): iface-id <containerID>/eth0, it pings, and its VF comes home', async () => {
    const c = ctx!;
    const { node, ctd } = c;
    const { ovn, ovs, nic } = node;
    const vf = (await nic.state()).pfs[0]!.vfs[2]!;
    const vfA = (await nic.state()).pfs[0]!.vfs[0]!;
    // ctr reads /etc/cni/net.d and /opt/cni/bin, nothing else: both are overlaid in a mount
    // namespace of its own, so the host's /etc and /opt are not touched.
    const confDir = path.join(c.dir, 'ctr-net.d');
    await mkdir(confDir, { recursive: true });
    await writeFile(
      path.join(confDir, '10-sriov.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: NET,
        plugins: [
          {
            type: 'ovs-offload-cni',
            server_socket: c.cniSocket,
            deviceID: vf.pci,
            ipam: { type: 'host-local', ranges: [[{ subnet: SUBNET }]] },
          },
        ],
      }),
    );
    const id = 'ctr-cni-1';
    const cniContainerId = `${NS}-${id}`;
    const ifaceId = `${cniContainerId}/eth0`;
    await ovn!.addUnknownPort(NET, ifaceId);
    // A peer on the same logical switch to ping: a CRI pod on VF 0.
    await ovn!.addUnknownPort(NET, `peer.${NS}`);
    const logDir = path.join(c.dir, 'pod-logs', 'peer');
    await mkdir(logDir, { recursive: true });
    const peerCfg = {
      metadata: { name: 'peer', namespace: NS, uid: 'uid-peer', attempt: 0 },
      log_directory: logDir,
      linux: {},
    };
    const peerId = await c.cri.runPodSandbox(peerCfg, 'vf0');
    const peerIp = ((await c.cri.podSandboxStatus(peerId)).network as { ip: string }).ip;

    const work = path.join(c.dir, 'ctr-mnt');
    for (const d of ['etc-up', 'etc-work', 'opt-up', 'opt-work'])
      await mkdir(path.join(work, d), { recursive: true });
    const script = [
      'set -e',
      'mount -t overlay overlay -o lowerdir=/etc,upperdir="$1/etc-up",workdir="$1/etc-work" /etc',
      'mount -t overlay overlay -o lowerdir=/opt,upperdir="$1/opt-up",workdir="$1/opt-work" /opt',
      'mkdir -p /etc/cni/net.d /opt/cni/bin',
      'mount --bind "$2" /etc/cni/net.d',
      'mount --bind "$3" /opt/cni/bin',
      'shift 3',
      'exec ctr "$@"',
    ].join('\n');
    const r = run(
      [
        'unshare',
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        script,
        'sh',
        work,
        confDir,
        c.hostDirs.get('/opt/cni/bin')!,
        '--address',
        ctd.socket,
        '-n',
        NS,
        'run',
        '--rm',
        '--cni',
        WORKLOAD_IMAGE,
        id,
        '/bin/busybox',
        'sh',
        '-c',
        `ip -o addr show dev eth0 && ping -c 2 -W 2 ${peerIp}`,
      ],
      { timeoutMs: 120_000 },
    );
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/eth0\s+inet 10\.77\.0\.\d+\/24/);
    expect(r.out).toContain('2 packets received');
    // ctr's DEL came after its task (and so its netns) was gone: the emulated VF came home
    // from a netns nobody named, and DEL restored it by its PCI address.
    await eventually(
      async () => (await nic.state()).pfs[0]!.vfs[2]!.netdev === vf.netdev,
      15_000,
      'ctr VF home under its own name',
    );
    const ports = (await ovs.vsctl(['list-ports', 'br-int'])).stdout;
    expect(ports).not.toContain(vf.representor!);
    expect(existsSync(`/var/lib/cni/results/${NET}-${cniContainerId}-eth0`)).toBe(false);
    await c.cri.stopPodSandbox(peerId);
    await c.cri.removePodSandbox(peerId);
    await eventually(
      async () => (await nic.state()).pfs[0]!.vfs[0]!.netdev === vfA.netdev,
      15_000,
      'peer VF home',
    );
  }, 300_000);

  it('stops the agent pod; containerd leaves no pod, shim, mount or netns pin', async () => {
    const c = ctx!;
    expect(c.agentCtr).not.toBe('');
    await c.cri.stopContainer(c.agentCtr, 30);
    await c.cri.stopPodSandbox(c.agentPod);
    await c.cri.removePodSandbox(c.agentPod);
    expect(await c.cri.listPodSandbox()).toEqual([]);
    // containerd down: no shim, container, mount or netns pin of its own is left.
    expect(await c.ctd.stop()).toEqual([]);
    expect(newPins(c.netnsBefore)).toEqual([]);
    expect(c.ctd.mounts()).toEqual([]);
  }, 120_000);
});
