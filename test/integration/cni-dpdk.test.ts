import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  emulateNic,
  SANDBOX_DPDK_DEVARGS,
  startOvn,
  startOvs,
  type Pod,
} from '../../src/sandbox/index.js';
import {
  agentConfig,
  execPlugin,
  ipamAllocations,
  startAgent,
  type CniOutcome,
  type TestAgent,
} from '../helpers/agent.js';
import { snapshotHost } from '../helpers/host-snapshot.js';
import { eventually, externalIds, newSandbox, type Node } from '../helpers/sandbox.js';

/**
 * Pods attached through DPDK representor ports, against Debian's DPDK build of ovs-vswitchd
 * (EAL on 2 MB hugepages, `--no-pci`). The emulated NIC's representors are veth ends, which
 * a DPDK port reaches through the net_af_packet vdev; the real representor devargs form is
 * proven on its error path, since no PMD on this machine can probe it.
 */

const PROVIDER = 'sriov-dpdk.default.ovn';
const PF = '0000:03:00.0';

interface World {
  node: Node;
  ipamDir: string;
  conf: (deviceID: string, patch?: Record<string, unknown>) => Record<string, unknown>;
}

let w: World;

beforeAll(async () => {
  const sb = await newSandbox();
  const ovs = await startOvs(sb, { datapath: 'netdev-dpdk' });
  const ovn = await startOvn(sb, ovs);
  const nic = await emulateNic(sb, { identity: 'mlx5', vfsPerPf: 4 });
  // The hardware side of the emulation: a real representor's link follows the eswitch, but
  // af_packet cannot set a link state, so the kernel ends are up from the start.
  for (const v of (await nic.state()).pfs[0]!.vfs) {
    await sb.ip.run({ name: sb.hostNetns }, ['link', 'set', 'dev', v.representor!, 'up']);
  }
  await ovn.createSwitch('sriov-dpdk');
  const ipamDir = path.join(sb.dir, 'ipam');
  w = {
    node: { sb, ovs, ovn, nic },
    ipamDir,
    conf: (deviceID, patch = {}) => ({
      cniVersion: '1.0.0',
      name: 'sriov-dpdk',
      type: 'ovs-offload-cni',
      provider: PROVIDER,
      deviceID,
      ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet: '10.79.0.0/24' }]] },
      ...patch,
    }),
  };
}, 60_000);

function call(
  agent: TestAgent,
  command: 'ADD' | 'DEL' | 'CHECK',
  pod: Pod,
  conf: Record<string, unknown>,
): Promise<CniOutcome> {
  return execPlugin(w.node, {
    command,
    containerID: `ctr-${pod.name}`,
    netns: pod.path,
    ifName: 'net1',
    args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: pod.name },
    config: { ...conf, server_socket: agent.socket },
  });
}

async function iface(name: string, columns: string): Promise<Record<string, unknown>> {
  const r = await w.node.ovs.vsctl([
    '--format=json',
    `--columns=${columns}`,
    'list',
    'Interface',
    name,
  ]);
  const parsed = JSON.parse(r.stdout) as { headings: string[]; data: unknown[][] };
  return Object.fromEntries(parsed.headings.map((h, i) => [h, parsed.data[0]?.[i]]));
}

function expectCode(r: CniOutcome, code: number, msg: RegExp): void {
  expect(r.code, r.stdout + r.stderr).toBe(1);
  expect(r.out).toMatchObject({ code });
  expect((r.out as { msg: string }).msg).toMatch(msg);
}

describe('CNI with DPDK representor ports (OVS-DPDK, OVN)', () => {
  it('attaches two pods through type=dpdk ports, they talk, the pmd has the flows, CHECK passes, DEL restores', async () => {
    const { sb, ovs, ovn, nic } = w.node;
    // representorType left at auto: br-int is netdev and DPDK is up, so DPDK ports.
    const agent = await startAgent(
      w.node,
      agentConfig(w.node, { nics: [{ pci: PF, dpdkDevargs: SANDBOX_DPDK_DEVARGS }] }),
    );
    const vfs = (await nic.state()).pfs[0]!.vfs;
    const pods = [await sb.makePod('a'), await sb.makePod('b')];
    const results: Record<string, unknown>[] = [];
    for (const [i, pod] of pods.entries()) {
      const ifaceId = `${pod.name}.default.${PROVIDER}`;
      await ovn!.addUnknownPort('sriov-dpdk', ifaceId);
      const r = await call(agent, 'ADD', pod, w.conf(vfs[i]!.pci));
      expect(r.code, r.stdout + r.stderr + agent.log()).toBe(0);
      results.push(r.out!);
      const rep = vfs[i]!.representor!;
      const row = await iface(rep, 'type,options,ofport,error,link_state');
      expect(row).toMatchObject({
        type: 'dpdk',
        options: ['map', [['dpdk-devargs', `net_af_packet_${rep},iface=${rep}`]]],
        error: ['set', []],
        link_state: 'up',
      });
      expect(row.ofport).toBeGreaterThan(0);
      expect(await externalIds(ovs, 'Interface', rep)).toMatchObject({
        'iface-id': ifaceId,
        'ovn-installed': 'true',
        'ovs-offload-owner': `node-${sb.id}`,
        vendor: 'ovs-offload',
        pod_name: pod.name,
        pod_namespace: 'default',
        pod_netns: pod.path,
      });
      expect(await externalIds(ovs, 'Port', rep)).toMatchObject({
        'ovs-offload-owner': `node-${sb.id}`,
        'ovs-offload-attachment': `ctr-${pod.name}/net1`,
      });
    }
    const ipB = (results[1]!.ips as { address: string }[])[0]!.address.split('/')[0]!;
    const ping = await sb.execInPod(pods[0]!, ['ping', '-c', '3', '-i', '0.2', '-W', '2', ipB]);
    expect(ping.stdout).toContain('3 received');

    // TCP through af_packet needs the pod side to checksum in software (a real VF does not).
    for (const pod of pods) await sb.execInPod(pod, ['ethtool', '-K', 'net1', 'tx', 'off']);
    const server = spawn(
      'ip',
      ['netns', 'exec', pods[1]!.netns, 'timeout', '20', 'iperf3', '-s', '-1'],
      {
        stdio: 'ignore',
      },
    );
    const serverDone = new Promise((r) => server.on('exit', r));
    try {
      await eventually(async () => {
        const ss = await sb.execInPod(pods[1]!, ['ss', '-ltn']);
        return ss.stdout.includes(':5201');
      });
      const tcp = await sb.execInPod(pods[0]!, ['iperf3', '-c', ipB, '-t', '1', '-J'], 20_000);
      const bytes = (JSON.parse(tcp.stdout) as { end: { sum_received: { bytes: number } } }).end
        .sum_received.bytes;
      expect(bytes).toBeGreaterThan(0);
    } finally {
      server.kill();
      await serverDone;
    }

    // The flows are in the userspace datapath, polled by the PMD thread.
    const dump = await ovs.appctl(['dpctl/dump-flows', '-m']);
    expect(dump.stdout).toMatch(/flow-dump from pmd on cpu core: \d+/);
    expect(dump.stdout).toMatch(/in_port\(/);

    for (const [i, pod] of pods.entries()) {
      const c = await execPlugin(w.node, {
        command: 'CHECK',
        containerID: `ctr-${pod.name}`,
        netns: pod.path,
        ifName: 'net1',
        args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: pod.name },
        config: { ...w.conf(vfs[i]!.pci), server_socket: agent.socket, prevResult: results[i] },
      });
      expect(c.code, c.stdout).toBe(0);
    }

    for (const [i, pod] of pods.entries()) {
      const d1 = await call(agent, 'DEL', pod, w.conf(vfs[i]!.pci));
      expect(d1.code, d1.stdout).toBe(0);
      const d2 = await call(agent, 'DEL', pod, w.conf(vfs[i]!.pci));
      expect(d2.code, d2.stdout).toBe(0);
    }
    const after = await eventually(async () => {
      const st = await nic.state();
      return st.pfs[0]!.vfs.every((v, i) => v.netdev === vfs[i]!.netdev) ? st : null;
    });
    expect(after!.pfs[0]!.vfs.map((v) => v.netdev)).toEqual(vfs.map((v) => v.netdev));
    expect((await ovs.vsctl(['list-ports', 'br-int'])).stdout.trim()).toBe('');
    // The kernel representors stay as the hardware had them: up, never touched by `ip link`.
    const links = (await sb.ip.json({ name: sb.hostNetns }, ['link', 'show'])) as {
      ifname: string;
      flags: string[];
    }[];
    for (const v of vfs)
      expect(links.find((l) => l.ifname === v.representor)?.flags).toContain('UP');
    expect(await ipamAllocations(w.ipamDir, 'sriov-dpdk')).toEqual([]);
    expect(await agent.stop()).toBe(0);
  }, 90_000);

  it('agent start cleans DPDK ports of a vanished pod and of a lost state file, through OVS alone', async () => {
    const { sb, ovs, ovn, nic } = w.node;
    const cfg = agentConfig(w.node, { nics: [{ pci: PF, dpdkDevargs: SANDBOX_DPDK_DEVARGS }] });
    const agent = await startAgent(w.node, cfg);
    const vfs = (await nic.state()).pfs[0]!.vfs;
    const pods = [await sb.makePod('gone'), await sb.makePod('lost')];
    for (const [i, pod] of pods.entries()) {
      const ifaceId = `${pod.name}.default.${PROVIDER}`;
      await ovn!.addUnknownPort('sriov-dpdk', ifaceId);
      const r = await call(agent, 'ADD', pod, w.conf(vfs[i]!.pci, { ipam: undefined }));
      expect(r.code, r.stdout + agent.log()).toBe(0);
    }
    expect(await agent.stop('SIGKILL')).toBeNull();
    // Pod "gone" is gone; pod "lost" keeps running but its state file is lost.
    await nic.destroyPodNetns(pods[0]!);
    await rm(path.join(agent.stateDir, 'ctr-lost-net1.json'));
    const again = await startAgent(w.node, cfg);
    expect((await ovs.vsctl(['list-ports', 'br-int'])).stdout.trim()).toBe('');
    const links = (await sb.ip.json({ name: sb.hostNetns }, ['link', 'show'])) as {
      ifname: string;
      flags: string[];
    }[];
    // The live pod's representor is as the hardware keeps it; the emulation re-creates the
    // vanished pod's pair (a veth dies with its netns), so only the live one says anything.
    expect(links.find((l) => l.ifname === vfs[1]!.representor)?.flags).toContain('UP');
    expect(again.log()).toMatch(/removed owned pod port without attachment state/);
    await nic.destroyPodNetns(pods[1]!);
    expect(await again.stop()).toBe(0);
  }, 60_000);

  it("the real devargs form fails with code 7 quoting ovs-vswitchd's error, host unchanged", async () => {
    const { sb, nic } = w.node;
    const agent = await startAgent(
      w.node,
      agentConfig(w.node, { nics: [{ pci: PF, representorType: 'dpdk' }] }),
    );
    const vf = (await nic.state()).pfs[0]!.vfs[2]!;
    const pod = await sb.makePod('real');
    const snap = () =>
      snapshotHost(w.node, { stateDir: agent.stateDir, ipamDir: w.ipamDir }, [pod.netns]);
    const before = await snap();
    // No IPAM: host-local would leave its last_reserved_ip behind even for a released lease.
    const r = await call(agent, 'ADD', pod, w.conf(vf.pci, { ipam: undefined }));
    expectCode(
      r,
      7,
      new RegExp(
        `Error attaching device '${PF},representor=\\[2\\]' to DPDK`.replace(/\./g, '\\.'),
      ),
    );
    expect(await snap()).toEqual(before);
    expect(await agent.stop()).toBe(0);
  }, 60_000);

  it('representorType dpdk on an ovs-vswitchd without DPDK: code 11, nothing changed', async () => {
    const sb = await newSandbox();
    const ovs = await startOvs(sb);
    await ovs.addBridge('br-int');
    const nic = await emulateNic(sb, { identity: 'mlx5', vfsPerPf: 2 });
    const node: Node = { sb, ovs, nic };
    const agent = await startAgent(
      node,
      agentConfig(node, { nics: [{ pci: PF, representorType: 'dpdk' }] }),
    );
    const ipamDir = path.join(sb.dir, 'ipam');
    const pod = await sb.makePod('early');
    const snap = () => snapshotHost(node, { stateDir: agent.stateDir, ipamDir }, [pod.netns]);
    const before = await snap();
    const r = await execPlugin(node, {
      command: 'ADD',
      containerID: 'ctr-early',
      netns: pod.path,
      ifName: 'net1',
      args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'early' },
      config: {
        ...w.conf((await nic.state()).pfs[0]!.vfs[0]!.pci, { ipam: undefined }),
        server_socket: agent.socket,
      },
    });
    expectCode(r, 11, /DPDK is not initialised/);
    expect(await snap()).toEqual(before);
    expect(await agent.stop()).toBe(0);
  }, 60_000);
});
