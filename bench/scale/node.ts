import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { z } from 'zod';
import {
  emulateNic,
  launchAgent,
  sandboxAgentConfig,
  Sandbox,
  startOvs,
  type AgentProcess,
  type EmulatedNic,
  type OvsInstance,
  type Pod,
} from '../../src/sandbox/index.js';
import { ExecaRunner, packageRoot } from '../../src/sys/index.js';
import { FakeKubelet } from '../../test/helpers/fake-kubelet.js';
import { percentile, round, timeMs } from '../lib/stats.js';
import { burst, sequential, type CniCall } from './burst.js';
import { childCpuSeconds, cpuSeconds, idleCpuPercent, rssMb, sysCpuSeconds } from './proc.js';

/** Figures for one node size N (one PF, N VFs in switchdev). */
export interface ScaleRow {
  n: number;
  pf_bringup_ms: number;
  nics_json_ms: number;
  agent_ready_ms: number;
  listandwatch_first_ms: number;
  allocate_p99_ms: number;
  burst_add_wall_ms: number;
  burst_add_p50_ms: number;
  burst_add_p99_ms: number;
  burst_del_wall_ms: number;
  burst_del_p50_ms: number;
  burst_del_p99_ms: number;
  /** ADDs answered 11 and repeated (their time includes the repeats). */
  burst_add_retries: number;
  /** DELs answered 11 and repeated (their time includes the repeats). */
  burst_del_retries: number;
  seq_add_p50_ms: number;
  agent_add_p50_ms: number;
  rss_idle_mb: number;
  heap_idle_mb: number;
  rss_after_burst_mb: number;
  heap_after_burst_mb: number;
  rss_after_idle_mb: number;
  heap_after_idle_mb: number;
  /** process.memoryUsage() after the idle window, MB: what the RSS is made of. */
  memory_after_idle_mb: MemorySplit;
  idle_cpu_pct: number;
  restart_ready_ms: number;
  hostdevice_add_wall_ms: number;
  hostdevice_del_wall_ms: number;
  hostdevice_add_p50_ms: number;
  /** CPU seconds of host-device's burst ADD (its processes, nsenter included). */
  hostdevice_add_cpu_s: number;
  vsctl_add_wall_ms: number;
  vsctl_del_wall_ms: number;
  /**
   * Emulated-NIC stand-in processes (node) per ADD: `ip -d` and ethtool calls the real tools
   * answer in production; each costs a Node start here, so the burst pays for emulation too.
   */
  standin_calls_per_add: number;
  /** The NIC stand-ins (devlink, ethtool, ip) the restart with N attached ran, by command. */
  restart_standin_calls: Record<string, number>;
  /**
   * Where the burst ADD's CPU went, in CPU seconds: the plugin processes the runtime started
   * (front ends), the agent itself, and the programs the agent ran (ip, IPAM).
   */
  burst_add_cpu_s: {
    frontends: number;
    agent: number;
    /** Of `agent`, in the kernel: mostly fork copying the agent's page tables per command. */
    agent_sys: number;
    agent_children: number;
  };
  /**
   * Start-up and restart (N attached): ms per start-up step from the agent's debug log, when
   * --steps was given (each step runs until the next one's line, the last until "agent ready").
   */
  startup_steps_ms?: { start: Record<string, number>; restart: Record<string, number> };
  /** NIC stand-in calls per DEL in the burst (see standin_calls_per_add). */
  standin_calls_per_del: number;
  /**
   * Per-step p50 inside the agent's DEL (debug log, --steps): lock waits, then the three
   * teardown chains' steps (each its own duration; they run side by side), state-remove.
   */
  del_steps_p50_ms?: Record<string, number>;
  /** Per-step p50 inside the agent's ADD (debug log), when --steps was given. */
  add_steps_p50_ms?: Record<string, number>;
}

export interface ScaleOptions {
  n: number;
  idleMs: number;
  seqCalls: number;
  nicsJsonRuns: number;
  allocateCalls: number;
  steps: boolean;
  log(line: string): void;
}

const BIN = path.join(packageRoot(), 'bin', 'ovs-offload');
/** The plugin executable as /opt/cni/bin holds it (the compiled front end). */
const FRONT = path.join(packageRoot(), 'dist', 'ovs-offload-cni');
const HOST_DEVICE = '/usr/lib/cni/host-device';
const PF = '0000:03:00.0';
const RESOURCE = 'intel.com/scale';
const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Preloaded into the agent (NODE_OPTIONS=--import), for this bench only: on SIGUSR2 the
 * process writes its V8 heap figures to a file. Nothing runs until the signal, so the idle
 * CPU measured is the agent's own; the node processes the agent starts (the NIC stand-ins)
 * do not inherit it.
 */
const HEAP_PROBE_SOURCE = `import { writeFileSync } from 'node:fs';
const out = process.env.OO_BENCH_HEAP_FILE;
delete process.env.NODE_OPTIONS;
delete process.env.OO_BENCH_HEAP_FILE;
if (out) {
  process.on('SIGUSR2', () => {
    const m = process.memoryUsage();
    writeFileSync(out, JSON.stringify({ ...m, at: Date.now() }));
  });
}
`;

const memorySchema = z.object({
  rss: z.number(),
  heapTotal: z.number(),
  heapUsed: z.number(),
  external: z.number(),
  arrayBuffers: z.number(),
  at: z.number(),
});
export type MemorySplit = Omit<z.infer<typeof memorySchema>, 'at'>;

/** The agent's process.memoryUsage() (MB), asked for through the bench's SIGUSR2 handler. */
async function memoryMb(agent: AgentProcess, file: string): Promise<MemorySplit> {
  const before = Date.now();
  process.kill(agent.pid, 'SIGUSR2');
  for (let i = 0; i < 200; i++) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (text) {
      const { at, ...m } = memorySchema.parse(JSON.parse(text));
      if (at >= before) {
        const mb = (x: number) => round(x / 1048576, 1);
        return {
          rss: mb(m.rss),
          heapTotal: mb(m.heapTotal),
          heapUsed: mb(m.heapUsed),
          external: mb(m.external),
          arrayBuffers: mb(m.arrayBuffers),
        };
      }
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('agent did not answer the heap probe');
}

/** The agent's V8 heap in use (MB). */
async function heapMb(agent: AgentProcess, file: string): Promise<number> {
  return (await memoryMb(agent, file)).heapUsed;
}

async function cli(nic: EmulatedNic, args: string[]): Promise<string> {
  const r = await new ExecaRunner({ PATH: nic.path, OVS_OFFLOAD_LOG_LEVEL: 'warn' }).run(
    [BIN, ...args],
    { timeoutMs: 900_000 },
  );
  return r.stdout;
}

interface Agent {
  proc: AgentProcess;
  heapFile: string;
}

async function startAgent(
  sb: Sandbox,
  ovs: OvsInstance,
  nic: EmulatedNic,
  cfg: ReturnType<typeof sandboxAgentConfig>,
  steps: boolean,
): Promise<{ agent: Agent; readyMs: number }> {
  const heapFile = path.join(sb.dir, `heap-${Date.now()}.json`);
  const probe = path.join(sb.dir, 'heap-probe.mjs');
  await writeFile(probe, HEAP_PROBE_SOURCE);
  let proc: AgentProcess | undefined;
  const readyMs = await timeMs(async () => {
    proc = await launchAgent(sb, nic, cfg, {
      logLevel: steps ? 'debug' : 'info',
      env: {
        ...ovs.env,
        // OO_BENCH_AGENT_NODE_OPTIONS adds options for the agent only, e.g. an --import that
        // starts node:inspector's profiler (--cpu-prof is refused in NODE_OPTIONS).
        NODE_OPTIONS: [`--import=${probe}`, process.env.OO_BENCH_AGENT_NODE_OPTIONS ?? '']
          .join(' ')
          .trim(),
        OO_BENCH_HEAP_FILE: heapFile,
      },
      waitReady: false,
    });
    // Start-up brings every representor's hw-tc-offload to policy: N ethtool runs.
    await proc.waitReady(900_000);
  });
  return { agent: { proc: proc!, heapFile }, readyMs };
}

const startupLine = z.object({ msg: z.string(), time: z.string(), step: z.string().optional() });

/** ms per start-up step, from the "start-up step" debug lines up to "agent ready". */
async function startupSteps(agent: Agent): Promise<Record<string, number>> {
  const marks: { step: string; time: number }[] = [];
  for (const raw of await agent.proc.logLines()) {
    const l = startupLine.safeParse(raw);
    if (!l.success) continue;
    if (l.data.msg === 'start-up step' && l.data.step) {
      marks.push({ step: l.data.step, time: Date.parse(l.data.time) });
    }
    if (l.data.msg === 'agent ready') marks.push({ step: 'end', time: Date.parse(l.data.time) });
  }
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < marks.length; i++) {
    out[marks[i]!.step] = marks[i + 1]!.time - marks[i]!.time;
  }
  return out;
}

const stepSchema = z.object({
  msg: z.literal('ADD steps'),
  steps: z.record(z.string(), z.number()),
});

/** p50 per step of the agent's "<op> steps" debug lines. */
function stepsP50(lines: readonly Record<string, unknown>[], msg: string): Record<string, number> {
  const samples = new Map<string, number[]>();
  for (const l of lines) {
    const s = stepSchema.extend({ msg: z.literal(msg) }).safeParse(l);
    if (!s.success) continue;
    for (const [k, v] of Object.entries(s.data.steps))
      samples.set(k, [...(samples.get(k) ?? []), v]);
  }
  return Object.fromEntries([...samples].map(([k, v]) => [k, round(percentile(v, 50), 2)]));
}

export async function measureNode(o: ScaleOptions): Promise<ScaleRow> {
  const { n, log } = o;
  const sb = await Sandbox.create();
  let kubelet: FakeKubelet | undefined;
  let agent: Agent | undefined;
  try {
    const ovs = await startOvs(sb);
    await ovs.addBridge('br-int');
    const nic = await emulateNic(sb, {
      identity: 'metascale',
      pfs: 1,
      vfsPerPf: 0,
      eswitchMode: 'legacy',
    });
    const policy = [{ pci: PF, numVfs: n, eswitchMode: 'switchdev' }];
    const policyFile = path.join(sb.dir, 'nics.json');
    await writeFile(
      policyFile,
      JSON.stringify({ nodeName: 'n', sysfsRoot: nic.sysfsRoot, nics: policy }),
    );
    log(`N=${n}: PF bring-up`);
    const bringUp = await timeMs(() => cli(nic, ['nics', 'apply', '--config', policyFile]));
    const nicsMs: number[] = [];
    let reps = 0;
    for (let i = 0; i < o.nicsJsonRuns; i++) {
      let out = '';
      nicsMs.push(
        await timeMs(async () => {
          out = await cli(nic, ['nics', '--sysfs-root', nic.sysfsRoot, '--json']);
        }),
      );
      const parsed = z
        .object({
          pfs: z.array(
            z.object({ vfs: z.array(z.object({ representor: z.string().nullable() })) }),
          ),
        })
        .parse(JSON.parse(out));
      reps = parsed.pfs[0]?.vfs.filter((v) => v.representor !== null).length ?? 0;
    }
    if (reps !== n) throw new Error(`N=${n}: nics --json shows ${reps} representors`);
    const vfs = (await nic.state()).pfs[0]!.vfs;

    const kubeletDir = path.join(sb.dir, 'kubelet');
    await mkdir(path.join(kubeletDir, 'device-plugins'), { recursive: true });
    kubelet = await FakeKubelet.start({ kubeletDir, mode: 'register' });
    const cfg = {
      ...sandboxAgentConfig(sb, ovs, nic),
      nics: policy,
      devicePlugin: {
        resourceList: [{ resourceName: 'scale', selectors: { vendors: ['1f67'] } }],
        kubeletDir,
        devinfoDir: path.join(sb.dir, 'devinfo'),
      },
    };
    log(`N=${n}: agent start`);
    const started = await startAgent(sb, ovs, nic, cfg, o.steps);
    agent = started.agent;
    const startSteps = o.steps ? await startupSteps(agent) : {};
    const pid = agent.proc.pid;
    await kubelet.waitForRegistration(RESOURCE, 0, 60_000);
    const lwStart = Date.now();
    const stream = kubelet.plugin(RESOURCE).listAndWatch();
    const first = await stream.waitFor((d) => d.length === n, {
      timeoutMs: 60_000,
      what: `${n} VFs`,
    });
    const listAndWatchMs = first.at - lwStart;
    const alloc = await execa(
      process.execPath,
      [
        ...process.execArgv,
        path.join(here, '..', 'deviceplugin', 'allocate-client.ts'),
        path.join(kubeletDir, 'device-plugins', 'intel.com_scale.sock'),
        first.devices.map((d) => d.ID).join(','),
        String(o.allocateCalls),
      ],
      { timeout: 300_000 },
    );
    const allocMs = z.object({ ms: z.array(z.number()) }).parse(JSON.parse(alloc.stdout)).ms;
    const rssIdle = rssMb(pid);
    const heapIdle = await heapMb(agent.proc, agent.heapFile);

    const pods: Pod[] = [];
    for (let i = 0; i < n; i++) pods.push(await sb.makePod(`p${i}`));
    const call = (i: number, command: string): CniCall => ({
      bin: FRONT,
      env: {
        CNI_COMMAND: command,
        CNI_CONTAINERID: `c${i}`,
        CNI_NETNS: pods[i]!.path,
        CNI_IFNAME: 'net1',
        CNI_PATH: '/usr/lib/cni',
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=scale;K8S_POD_NAME=p${i}`,
      },
      config: {
        cniVersion: '1.0.0',
        name: 'scale',
        type: 'ovs-offload-cni',
        server_socket: agent!.proc.socket,
        deviceID: vfs[i]!.pci,
        ipam: {
          type: 'host-local',
          dataDir: path.join(sb.dir, 'ipam'),
          ranges: [[{ subnet: '10.92.0.0/21' }]],
        },
      },
    });
    const idx = Array.from({ length: n }, (_, i) => i);
    const skip = (await agent.proc.logLines()).length;
    await nic.clearCalls();
    log(`N=${n}: burst ADD`);
    const cpu0 = {
      fe: childCpuSeconds('self'),
      agent: cpuSeconds(pid),
      agentSys: sysCpuSeconds(pid),
      kids: childCpuSeconds(pid),
    };
    // An ADD answered 11 (at N = 512 on 2 CPUs the front end's 60 s wait can run out) is
    // repeated as kubelet repeats it; the agent undoes the first attempt's leftovers.
    const add = await burst(
      sb.hostNetnsPath,
      idx.map((i) => call(i, 'ADD')),
      3,
    );
    const addCpu = {
      frontends: round(childCpuSeconds('self') - cpu0.fe, 2),
      agent: round(cpuSeconds(pid) - cpu0.agent, 2),
      agent_sys: round(sysCpuSeconds(pid) - cpu0.agentSys, 2),
      agent_children: round(childCpuSeconds(pid) - cpu0.kids, 2),
    };
    const lines = (await agent.proc.logLines()).slice(skip);
    const agentAdd = lines
      .filter((l) => l.msg === 'cni request' && l.op === 'add')
      .map((l) => Number(l.ms));
    const stepSamples = new Map<string, number[]>();
    for (const l of lines) {
      const s = stepSchema.safeParse(l);
      if (!s.success) continue;
      for (const [k, v] of Object.entries(s.data.steps))
        stepSamples.set(k, [...(stepSamples.get(k) ?? []), v]);
    }
    const standinCalls = (await nic.calls()).filter((c) => c.tool !== 'sysfs').length;
    const rssBurst = rssMb(pid);
    const heapBurst = await heapMb(agent.proc, agent.heapFile);
    log(`N=${n}: idle ${o.idleMs} ms with ${n} attached`);
    const idleCpu = await idleCpuPercent(pid, o.idleMs);
    const rssIdleAfter = rssMb(pid);
    const memAfterIdle = await memoryMb(agent.proc, agent.heapFile);
    const heapIdleAfter = memAfterIdle.heapUsed;

    log(`N=${n}: restart with ${n} attached`);
    await agent.proc.stop('SIGTERM');
    await nic.clearCalls();
    const restarted = await startAgent(sb, ovs, nic, cfg, o.steps);
    agent = restarted.agent;
    const restartCalls = (await nic.calls()).filter((c) => c.tool !== 'sysfs');
    const restartStandins: Record<string, number> = {};
    for (const c of restartCalls) {
      // The command without its device names and addresses: "ethtool -k", "devlink -j port show".
      const words = c.argv.filter((a) => !/[0-9/:]/.test(a)).slice(0, 4);
      const k = [c.tool, ...words].join(' ');
      restartStandins[k] = (restartStandins[k] ?? 0) + 1;
    }
    const restartSteps = o.steps ? await startupSteps(agent) : {};

    log(`N=${n}: burst DEL`);
    const delSkip = (await agent.proc.logLines()).length;
    await nic.clearCalls();
    // DEL answers 11 when a step timed out (at N=128 here, `ip -d` through the emulated
    // NIC's Node stand-ins): kubelet repeats it, so does the bench, and counts it.
    const del = await burst(
      sb.hostNetnsPath,
      idx.map((i) => call(i, 'DEL')),
      3,
    );
    const delSteps = stepsP50((await agent.proc.logLines()).slice(delSkip), 'DEL steps');
    const delStandins = (await nic.calls()).filter((c) => c.tool !== 'sysfs').length;
    const left = (await ovs.vsctl(['list-ports', 'br-int'])).stdout.trim();
    if (left !== '') throw new Error(`N=${n}: ports left after DEL: ${left.split('\n').length}`);

    const k = Math.min(n, o.seqCalls);
    const seqAdd: number[] = [];
    for (let i = 0; i < k; i++) {
      seqAdd.push(...(await sequential(sb.hostNetnsPath, [call(i, 'ADD')])));
      await sequential(sb.hostNetnsPath, [call(i, 'DEL')]);
    }
    await agent.proc.stop('SIGTERM');
    agent = undefined;
    await kubelet.stop();
    kubelet = undefined;

    // The peers: host-device moving N veths into N netns, ovs-vsctl adding N ports.
    log(`N=${n}: host-device burst`);
    const hdPods: Pod[] = [];
    for (let i = 0; i < n; i++) hdPods.push(await sb.makePod(`h${i}`));
    await sb.ip.batch(
      { name: sb.hostNetns },
      idx.map((i) => ['link', 'add', `hd${i}`, 'type', 'veth', 'peer', 'name', `hp${i}`]),
    );
    const hd = (i: number, command: string): CniCall => ({
      bin: HOST_DEVICE,
      env: {
        CNI_COMMAND: command,
        CNI_CONTAINERID: `h${i}`,
        CNI_NETNS: hdPods[i]!.path,
        CNI_IFNAME: 'net1',
        CNI_PATH: '/usr/lib/cni',
      },
      config: { cniVersion: '1.0.0', name: 'hd', type: 'host-device', device: `hd${i}` },
    });
    const hdCpu0 = childCpuSeconds('self');
    const hdAdd = await burst(
      sb.hostNetnsPath,
      idx.map((i) => hd(i, 'ADD')),
    );
    const hdAddCpu = round(childCpuSeconds('self') - hdCpu0, 2);
    const hdDel = await burst(
      sb.hostNetnsPath,
      idx.map((i) => hd(i, 'DEL')),
    );
    await sb.ip.batch(
      { name: sb.hostNetns },
      idx.map((i) => ['link', 'del', `hd${i}`]),
    );

    log(`N=${n}: ovs-vsctl burst`);
    const reps2 = vfs.map((v) => v.representor!);
    const vsAdd = await timeMs(() =>
      Promise.all(reps2.map((r) => ovs.vsctl(['--may-exist', 'add-port', 'br-int', r], 300_000))),
    );
    const vsDel = await timeMs(() =>
      Promise.all(reps2.map((r) => ovs.vsctl(['--if-exists', 'del-port', 'br-int', r], 300_000))),
    );

    const r2 = (x: number) => round(x, 1);
    return {
      n,
      pf_bringup_ms: r2(bringUp),
      nics_json_ms: r2(percentile(nicsMs, 50)),
      agent_ready_ms: r2(started.readyMs),
      listandwatch_first_ms: r2(listAndWatchMs),
      allocate_p99_ms: round(percentile(allocMs, 99), 3),
      burst_add_wall_ms: r2(add.wallMs),
      burst_add_p50_ms: r2(percentile(add.ms, 50)),
      burst_add_p99_ms: r2(percentile(add.ms, 99)),
      burst_del_wall_ms: r2(del.wallMs),
      burst_del_p50_ms: r2(percentile(del.ms, 50)),
      burst_del_p99_ms: r2(percentile(del.ms, 99)),
      burst_add_retries: add.retries,
      burst_del_retries: del.retries,
      seq_add_p50_ms: r2(percentile(seqAdd, 50)),
      agent_add_p50_ms: r2(percentile(agentAdd, 50)),
      rss_idle_mb: r2(rssIdle),
      heap_idle_mb: r2(heapIdle),
      rss_after_burst_mb: r2(rssBurst),
      heap_after_burst_mb: r2(heapBurst),
      rss_after_idle_mb: r2(rssIdleAfter),
      heap_after_idle_mb: r2(heapIdleAfter),
      memory_after_idle_mb: memAfterIdle,
      idle_cpu_pct: round(idleCpu, 2),
      restart_ready_ms: r2(restarted.readyMs),
      hostdevice_add_wall_ms: r2(hdAdd.wallMs),
      hostdevice_del_wall_ms: r2(hdDel.wallMs),
      hostdevice_add_p50_ms: r2(percentile(hdAdd.ms, 50)),
      hostdevice_add_cpu_s: hdAddCpu,
      vsctl_add_wall_ms: r2(vsAdd),
      vsctl_del_wall_ms: r2(vsDel),
      standin_calls_per_add: round(standinCalls / n, 2),
      restart_standin_calls: restartStandins,
      standin_calls_per_del: round(delStandins / n, 2),
      ...(Object.keys(delSteps).length > 0 ? { del_steps_p50_ms: delSteps } : {}),
      burst_add_cpu_s: addCpu,
      ...(o.steps ? { startup_steps_ms: { start: startSteps, restart: restartSteps } } : {}),
      ...(stepSamples.size > 0
        ? {
            add_steps_p50_ms: Object.fromEntries(
              [...stepSamples].map(([k2, v]) => [k2, round(percentile(v, 50), 2)]),
            ),
          }
        : {}),
    };
  } finally {
    await agent?.proc.stop('SIGTERM');
    await kubelet?.stop();
    const problems = await sb.destroy();
    if (problems.length > 0) log(`sandbox leftovers: ${problems.join('; ')}`);
  }
}
