import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { parseDumpText } from '../../src/ovs/dpctl/index.js';
import {
  CniRunner,
  emulateNic,
  launchAgent,
  Sandbox,
  sandboxAgentConfig,
  startOvs,
} from '../../src/sandbox/index.js';
import { round } from '../lib/stats.js';
import { barChart } from '../lib/svg.js';
import type { Bench, BenchOutcome } from '../lib/types.js';

const repo = path.resolve(import.meta.dirname, '../..');
const resultsDir = path.join(repo, 'bench', 'results');

interface ModeResult {
  hwOffload: boolean;
  tcp1_gbps: number;
  tcp1_retransmits: number;
  tcp4_gbps: number;
  tcp4_retransmits: number;
  udp_gbps: number;
  udp_loss_pct: number;
  vswitchd_cpu_s: number;
  kernel_cpu_s: number;
  flows_offloaded: number;
  flows_partial: number;
  flows_software: number;
  packets_offloaded: number;
  packets_software: number;
}

const CLK_TCK =
  Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime+stime of a process, seconds (/proc/<pid>/stat fields 14 and 15). */
function processCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** Kernel time of the whole host (system + irq + softirq), seconds: where veth and the stack run. */
function kernelCpu(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  return ((cpu[2] ?? 0) + (cpu[5] ?? 0) + (cpu[6] ?? 0)) / CLK_TCK;
}

interface Iperf {
  bitsPerSecond: number;
  retransmits: number;
  lossPct: number;
}

function iperf(ns: string, server: string, args: string[]): Iperf {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'iperf3', '-c', server, '-J', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  const j = JSON.parse(r.stdout || '{}') as {
    error?: string;
    end?: {
      sum_received?: { bits_per_second?: number };
      sum_sent?: { retransmits?: number };
      sum?: { bits_per_second?: number; lost_percent?: number };
    };
  };
  if (r.status !== 0 || j.error)
    throw new Error(`iperf3 ${args.join(' ')}: ${j.error ?? r.stderr}`);
  const udp = args.includes('-u');
  return {
    bitsPerSecond: (udp ? j.end?.sum?.bits_per_second : j.end?.sum_received?.bits_per_second) ?? 0,
    retransmits: j.end?.sum_sent?.retransmits ?? 0,
    lossPct: j.end?.sum?.lost_percent ?? 0,
  };
}

function flowSplit(dump: string, ports: readonly string[]) {
  const out = { offloaded: 0, partial: 0, software: 0, packetsOffloaded: 0, packetsSoftware: 0 };
  for (const f of parseDumpText(dump).flows) {
    if (ports.length > 0 && !ports.includes(f.inPort ?? '')) continue;
    const pkts = Number(f.packets);
    if (f.offloaded === 'yes') {
      out.offloaded++;
      out.packetsOffloaded += pkts;
    } else if (f.offloaded === 'partial') out.partial++;
    else {
      out.software++;
      out.packetsSoftware += pkts;
    }
  }
  return out;
}

async function runMode(
  hwOffload: boolean,
  ctx: {
    seconds: number;
    podA: string;
    podB: string;
    serverIp: string;
    dump: () => Promise<string>;
    vswitchdPid: () => Promise<number>;
    reps: string[];
  },
): Promise<ModeResult> {
  const pid = await ctx.vswitchdPid();
  const cpu0 = processCpu(pid);
  const k0 = kernelCpu();
  const t = String(ctx.seconds);
  const tcp1 = iperf(ctx.podA, ctx.serverIp, ['-t', t]);
  const tcp4 = iperf(ctx.podA, ctx.serverIp, ['-t', t, '-P', '4']);
  const udp = iperf(ctx.podA, ctx.serverIp, ['-t', t, '-u', '-b', '500M']);
  const cpu = processCpu(pid) - cpu0;
  const kernel = kernelCpu() - k0;
  const flows = flowSplit(await ctx.dump(), ctx.reps);
  return {
    hwOffload,
    tcp1_gbps: round(tcp1.bitsPerSecond / 1e9, 3),
    tcp1_retransmits: tcp1.retransmits,
    tcp4_gbps: round(tcp4.bitsPerSecond / 1e9, 3),
    tcp4_retransmits: tcp4.retransmits,
    udp_gbps: round(udp.bitsPerSecond / 1e9, 3),
    udp_loss_pct: round(udp.lossPct, 3),
    vswitchd_cpu_s: round(cpu, 2),
    kernel_cpu_s: round(kernel, 2),
    flows_offloaded: flows.offloaded,
    flows_partial: flows.partial,
    flows_software: flows.software,
    packets_offloaded: flows.packetsOffloaded,
    packets_software: flows.packetsSoftware,
  };
}

/**
 * Two pods on VFs through the agent, iperf3 between them (TCP 1 and 4 streams, UDP at a fixed
 * rate) with hw-offload true and false (ovs-vswitchd restarted between, as it reads the
 * setting only at start), CPU of ovs-vswitchd and of the kernel, and the datapath flow split.
 * Here the NIC is emulated and OVS runs the userspace datapath: every flow is software, and
 * the report says so instead of inventing offload numbers.
 */
/** Writes offload-<host>-<date>.{json,md,svg} and builds the bench outcome. */
function report(
  ctx: { log(l: string): void },
  seconds: number,
  nic: string,
  modes: ModeResult[],
  offloadPossible: boolean,
  reason: string,
): BenchOutcome {
  const json = {
    bench: 'offload',
    nic: 'emulated',
    seconds,
    modes,
    offload_possible: false,
    reason,
  };
  const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '_');
  const date = new Date().toISOString().slice(0, 10);
  mkdirSync(resultsDir, { recursive: true });
  const base = path.join(resultsDir, `offload-${host}-${date}`);
  writeFileSync(`${base}.json`, JSON.stringify(json, null, 2) + '\n');
  const md = [
    `# offload bench — ${host}, ${date}`,
    '',
    `NIC: ${nic}. ${reason}.`,
    '',
    '| hw-offload | TCP 1 stream Gbit/s | TCP 4 streams Gbit/s | UDP 500M loss % | ovs-vswitchd CPU s | kernel CPU s | flows offloaded / software |',
    '|---|---|---|---|---|---|---|',
    ...modes.map(
      (m) =>
        `| ${m.hwOffload} | ${m.tcp1_gbps} | ${m.tcp4_gbps} | ${m.udp_loss_pct} | ${m.vswitchd_cpu_s} | ${m.kernel_cpu_s} | ${m.flows_offloaded} / ${m.flows_software} |`,
    ),
    '',
    `![throughput and CPU](offload-${host}-${date}.svg)`,
    '',
  ].join('\n');
  writeFileSync(`${base}.md`, md);
  writeFileSync(
    `${base}.svg`,
    barChart(
      `Pod-to-pod via OVS (${json.nic} NIC, ${seconds}s runs)`,
      'Gbit/s  |  CPU seconds',
      modes.map((m) => ({
        label: `hw-offload=${m.hwOffload}`,
        bars: [
          { label: 'TCP 1 stream (Gbit/s)', value: m.tcp1_gbps, color: '#4878a8' },
          { label: 'TCP 4 streams (Gbit/s)', value: m.tcp4_gbps, color: '#78a848' },
          { label: 'ovs-vswitchd CPU (s)', value: m.vswitchd_cpu_s, color: '#c8683a' },
        ],
      })),
    ),
  );
  return {
    json,
    table: [
      [
        'hw-offload',
        'TCP1 Gb/s',
        'TCP4 Gb/s',
        'UDP loss %',
        'vswitchd CPU s',
        'kernel CPU s',
        'flows off/sw',
      ],
      ...modes.map((m) => [
        String(m.hwOffload),
        m.tcp1_gbps,
        m.tcp4_gbps,
        m.udp_loss_pct,
        m.vswitchd_cpu_s,
        m.kernel_cpu_s,
        `${m.flows_offloaded}/${m.flows_software}`,
      ]),
    ],
    rows: modes.map((m) => ({
      bench: 'offload',
      metric: `tcp4_gbps(hw-offload=${m.hwOffload})`,
      ours: m.tcp4_gbps,
      peer: null,
      ratio: null,
      goal: 'reported (no offload possible on an emulated NIC)',
      pass: null,
    })),
  };
}

export const bench: Bench = {
  name: 'offload',
  describe: 'pod-to-pod throughput, CPU and flow split with hw-offload on and off',
  async run(ctx) {
    const { values } = parseArgs({
      args: ctx.args,
      options: { seconds: { type: 'string' } },
      strict: false,
    });
    const seconds = Number(values.seconds ?? (ctx.smoke ? 1 : 5));
    const sb = await Sandbox.create();
    const modes: ModeResult[] = [];
    let serverPid: string | undefined;
    try {
      const ovs = await startOvs(sb);
      await ovs.addBridge('br-int');
      const nic = await emulateNic(sb, { identity: 'mlx5', vfsPerPf: 2 });
      const agent = await launchAgent(sb, nic, sandboxAgentConfig(sb, ovs, nic), { env: ovs.env });
      const vfs = (await nic.state()).pfs[0]!.vfs;
      const cni = new CniRunner(sb.runner, `${path.join(repo, 'bin')}:/usr/lib/cni`, sb.inHost([]));
      const pods = [await sb.makePod('iperf-a'), await sb.makePod('iperf-b')];
      const ips: string[] = [];
      for (const [i, pod] of pods.entries()) {
        const out = (await cni.exec(
          'ADD',
          {
            cniVersion: '1.0.0',
            name: 'bench',
            type: 'ovs-offload-cni',
            server_socket: agent.socket,
            deviceID: vfs[i]!.pci,
            ipam: {
              type: 'host-local',
              dataDir: path.join(sb.dir, 'ipam'),
              ranges: [[{ subnet: '10.98.0.0/24' }]],
            },
          },
          {
            containerID: `bench-${i}`,
            netns: pod.path,
            ifName: 'net1',
            args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'bench', K8S_POD_NAME: pod.name },
          },
        )) as { ips: { address: string }[] };
        ips.push(out.ips[0]!.address.split('/')[0]!);
      }
      const pidFile = path.join(sb.dir, 'iperf3.pid');
      spawnSync('ip', ['netns', 'exec', pods[1]!.netns, 'iperf3', '-s', '-D', '-I', pidFile]);
      await new Promise((r) => setTimeout(r, 300));
      serverPid = readFileSync(pidFile, 'utf8').trim();
      const reps = vfs.slice(0, 2).map((v) => v.representor!);
      for (const hw of [true, false]) {
        await ovs.vsctl(['set', 'Open_vSwitch', '.', `other_config:hw-offload=${hw}`]);
        await ovs.restartVswitchd();
        // ovs-vswitchd re-opens its ports after a restart: wait until both carry traffic again.
        for (let i = 0; i < 50; i++) {
          const p = spawnSync('ip', [
            'netns',
            'exec',
            pods[0]!.netns,
            'ping',
            '-c',
            '1',
            '-W',
            '1',
            ips[1]!,
          ]);
          if (p.status === 0) break;
        }
        ctx.log(`mode hw-offload=${hw}: iperf3 ${seconds}s × 3`);
        modes.push(
          await runMode(hw, {
            seconds,
            podA: pods[0]!.netns,
            podB: pods[1]!.netns,
            serverIp: ips[1]!,
            dump: async () => (await ovs.appctl(['dpctl/dump-flows', '-m', 'type=all'])).stdout,
            vswitchdPid: async () => (await ovs.pid('ovs-vswitchd')) ?? 0,
            reps,
          }),
        );
      }
      if (serverPid) spawnSync('kill', [serverPid]);
      await agent.stop();
    } finally {
      const problems = await sb.destroy();
      if (problems.length > 0) ctx.log(`cleanup: ${problems.join('; ')}`);
    }

    return report(
      ctx,
      seconds,
      'emulated',
      modes,
      false,
      'emulated NIC: VFs and representors are veth pairs and OVS runs the userspace datapath (no openvswitch module, no TC flower here), so every flow is switched in software whatever hw-offload says',
    );
  },
};
