import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import {
  emulateNic,
  launchAgent,
  sandboxAgentConfig,
  Sandbox,
  startOvs,
} from '../../src/sandbox/index.js';
import { percentile, round } from '../lib/stats.js';
import type { Bench } from '../lib/types.js';

const repo = path.resolve(import.meta.dirname, '../..');
const HOST_DEVICE = '/usr/lib/cni/host-device';

/** Runs a CNI plugin like a container runtime (env + stdin), returns wall ms. */
function cni(bin: string, env: Record<string, string>, config: unknown): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(bin, [], {
    env: { PATH: process.env.PATH ?? '', ...env },
    input: JSON.stringify(config),
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0)
    throw new Error(
      `${path.basename(bin)} ${env.CNI_COMMAND}: exit ${r.status}: ${r.stdout}${r.stderr}`,
    );
  return ms;
}

/**
 * A pod interface's ADD and DEL through the real front end and agent (emulated switchdev NIC,
 * userspace OVS, no OVN wait), against Debian's Go host-device plugin moving a veth into a
 * netns and back in the same run, and against bare `node -e 0` (the front end's floor).
 */
export const bench: Bench = {
  name: 'cni',
  describe: 'CNI ADD/DEL latency: ovs-offload-cni + agent vs host-device (Go)',
  async run(ctx) {
    const cycles = ctx.smoke ? 5 : 50;
    const starts = ctx.smoke ? 5 : 20;
    const sb = await Sandbox.create();
    try {
      const ovs = await startOvs(sb);
      await ovs.addBridge('br-int');
      const nic = await emulateNic(sb, { identity: 'mlx5', vfsPerPf: 2 });
      const agent = await launchAgent(sb, nic, sandboxAgentConfig(sb, ovs, nic));
      const vf = (await nic.state()).pfs[0]!.vfs[0]!;
      const pod = await sb.makePod('bench');
      const conf = {
        cniVersion: '1.0.0',
        name: 'bench',
        type: 'ovs-offload-cni',
        server_socket: agent.socket,
        deviceID: vf.pci,
      };
      const env = {
        CNI_CONTAINERID: 'bench',
        CNI_NETNS: pod.path,
        CNI_IFNAME: 'net1',
        CNI_PATH: '/usr/lib/cni',
        CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=bench',
      };
      const front = path.join(repo, 'bin', 'ovs-offload-cni');
      const add: number[] = [];
      const del: number[] = [];
      cni(front, { ...env, CNI_COMMAND: 'ADD' }, conf); // warm the agent's caches once
      cni(front, { ...env, CNI_COMMAND: 'DEL' }, conf);
      const skipLines = (await agent.logLines()).length;
      for (let i = 0; i < cycles; i++) {
        add.push(cni(front, { ...env, CNI_COMMAND: 'ADD' }, conf));
        del.push(cni(front, { ...env, CNI_COMMAND: 'DEL' }, conf));
      }
      const lines = (await agent.logLines())
        .slice(skipLines)
        .filter((l) => l.msg === 'cni request');
      const agentAdd = lines
        .filter((l) => l.op === 'add' && l.outcome === 'ok')
        .map((l) => Number(l.ms));
      const agentDel = lines
        .filter((l) => l.op === 'del' && l.outcome === 'ok')
        .map((l) => Number(l.ms));
      await agent.stop();

      // host-device, in this process's own netns: a veth end into a netns and back.
      const hdNs = `oobench-${sb.id}`;
      const run = (argv: string[]) => spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
      run(['ip', 'netns', 'add', hdNs]);
      run(['ip', 'link', 'add', `hd${sb.id}a`, 'type', 'veth', 'peer', 'name', `hd${sb.id}b`]);
      const hdConf = {
        cniVersion: '1.0.0',
        name: 'hd',
        type: 'host-device',
        device: `hd${sb.id}a`,
      };
      const hdEnv = { ...env, CNI_NETNS: `/var/run/netns/${hdNs}`, CNI_CONTAINERID: 'hd' };
      const hdAdd: number[] = [];
      const hdDel: number[] = [];
      try {
        for (let i = 0; i < cycles; i++) {
          hdAdd.push(cni(HOST_DEVICE, { ...hdEnv, CNI_COMMAND: 'ADD' }, hdConf));
          hdDel.push(cni(HOST_DEVICE, { ...hdEnv, CNI_COMMAND: 'DEL' }, hdConf));
        }
      } finally {
        run(['ip', 'link', 'del', `hd${sb.id}a`]);
        run(['ip', 'netns', 'del', hdNs]);
      }

      const nodeStart: number[] = [];
      for (let i = 0; i < starts; i++) {
        const t = process.hrtime.bigint();
        spawnSync(process.execPath, ['-e', '0']);
        nodeStart.push(Number(process.hrtime.bigint() - t) / 1e6);
      }

      const addP50 = round(percentile(add, 50));
      const agentAddP50 = round(percentile(agentAdd, 50));
      const hdAddP50 = round(percentile(hdAdd, 50));
      const nodeP50 = round(percentile(nodeStart, 50));
      const ratio = round(hdAddP50 / agentAddP50);
      const overhead = round(addP50 - agentAddP50);
      const json = {
        bench: 'cni',
        cycles,
        add_p50_ms: addP50,
        add_p99_ms: round(percentile(add, 99)),
        del_p50_ms: round(percentile(del, 50)),
        agent_add_p50_ms: agentAddP50,
        agent_del_p50_ms: round(percentile(agentDel, 50)),
        hostdevice_add_p50_ms: hdAddP50,
        hostdevice_del_p50_ms: round(percentile(hdDel, 50)),
        node_start_p50_ms: nodeP50,
        ratio_agent_vs_hostdevice: ratio,
        frontend_overhead_ms: overhead,
      };
      return {
        json,
        table: [
          ['metric', 'p50 ms', 'p99 ms'],
          ['ADD (front end + agent)', addP50, json.add_p99_ms],
          ['DEL (front end + agent)', json.del_p50_ms, round(percentile(del, 99))],
          ['ADD inside the agent', agentAddP50, round(percentile(agentAdd, 99))],
          ['DEL inside the agent', json.agent_del_p50_ms, round(percentile(agentDel, 99))],
          ['host-device ADD (Go)', hdAddP50, round(percentile(hdAdd, 99))],
          ['host-device DEL (Go)', json.hostdevice_del_p50_ms, round(percentile(hdDel, 99))],
          ['node -e 0', nodeP50, round(percentile(nodeStart, 99))],
        ],
        rows: [
          {
            bench: 'cni',
            metric: 'ratio_agent_vs_hostdevice',
            ours: agentAddP50,
            peer: hdAddP50,
            ratio,
            goal: '>= 1',
            pass: ratio >= 1,
          },
          {
            bench: 'cni',
            metric: 'frontend_overhead_ms',
            ours: overhead,
            peer: nodeP50,
            ratio: null,
            goal: `<= node_start + 20 (${round(nodeP50 + 20)})`,
            pass: overhead <= nodeP50 + 20,
          },
        ],
      };
    } finally {
      const problems = await sb.destroy();
      if (problems.length > 0) ctx.log(`cleanup: ${problems.join('; ')}`);
    }
  },
};
