import { readdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  agentConfig,
  execPlugin,
  ipamAllocations,
  startAgent,
  type TestAgent,
} from '../helpers/agent.js';
import { eventually, externalIds, newNode, type Node } from '../helpers/sandbox.js';

/** DEL in every state the world can be in, failed ADDs, crashes, and contention for a VF. */

interface Setup {
  node: Node;
  agent: TestAgent;
  ipamDir: string;
  conf(patch?: Record<string, unknown>): Record<string, unknown>;
}

async function setup(
  opts: { ovn?: boolean; vfs?: number; agent?: Record<string, unknown> } = {},
): Promise<Setup> {
  const node = await newNode({
    ...(opts.ovn ? { ovn: true } : {}),
    nic: { vfsPerPf: opts.vfs ?? 4 },
  });
  const agent = await startAgent(node, { ...agentConfig(node), ...opts.agent });
  const ipamDir = path.join(node.sb.dir, 'ipam');
  return {
    node,
    agent,
    ipamDir,
    conf: (patch = {}) => ({
      cniVersion: '1.0.0',
      name: 'net-a',
      type: 'ovs-offload-cni',
      server_socket: agent.socket,
      ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet: '10.88.0.0/29' }]] },
      ...patch,
    }),
  };
}

// Container runtimes always send IgnoreUnknown=1 (IPAM plugins reject unknown keys otherwise).
const args = (pod: string) => ({
  IgnoreUnknown: '1',
  K8S_POD_NAMESPACE: 'default',
  K8S_POD_NAME: pod,
});

async function vfNetdevs(node: Node): Promise<(string | null)[]> {
  return (await node.nic.state()).pfs[0]!.vfs.map((v) => v.netdev);
}

describe('CNI DEL and failure paths', () => {
  it('DEL after the pod netns was destroyed finds the VF by PCI address and renames it back', async () => {
    const { node, agent, ipamDir, conf } = await setup();
    const before = await vfNetdevs(node);
    const vf = (await node.nic.state()).pfs[0]!.vfs[1]!;
    const pod = await node.sb.makePod('gone');
    const add = await execPlugin(node, {
      command: 'ADD',
      containerID: 'c-gone',
      netns: pod.path,
      ifName: 'net1',
      args: args('gone'),
      config: conf({ deviceID: vf.pci }),
    });
    expect(add.code, add.stdout + agent.log()).toBe(0);
    // The runtime tears the sandbox down first: the kernel sends the VF home as "net1".
    expect(await node.nic.destroyPodNetns(pod)).toEqual(['net1']);
    const del = await execPlugin(node, {
      command: 'DEL',
      containerID: 'c-gone',
      netns: pod.path,
      ifName: 'net1',
      args: args('gone'),
      config: conf({ deviceID: vf.pci }),
    });
    expect(del.code, del.stdout).toBe(0);
    await eventually(
      async () => JSON.stringify(await vfNetdevs(node)) === JSON.stringify(before),
      5000,
      'VF renamed back',
    );
    expect((await node.ovs.vsctl(['list-ports', 'br-int'])).stdout.trim()).toBe('');
    expect(await ipamAllocations(ipamDir, 'net-a')).toEqual([]);
  });

  it('DEL with an empty CNI_NETNS, with no state file, and twice: all succeed', async () => {
    const { node, agent, conf } = await setup();
    const vf = (await node.nic.state()).pfs[0]!.vfs[0]!;
    const pod = await node.sb.makePod('p');
    const add = await execPlugin(node, {
      command: 'ADD',
      containerID: 'c-1',
      netns: pod.path,
      ifName: 'net1',
      args: args('p'),
      config: conf({ deviceID: vf.pci }),
    });
    expect(add.code, add.stdout + agent.log()).toBe(0);
    const d1 = await execPlugin(node, {
      command: 'DEL',
      containerID: 'c-1',
      netns: '',
      ifName: 'net1',
      args: args('p'),
      config: conf(),
    });
    expect(d1.code, d1.stdout).toBe(0);
    expect((await vfNetdevs(node))[0]).toBe(vf.netdev);
    const d2 = await execPlugin(node, {
      command: 'DEL',
      containerID: 'c-1',
      netns: '',
      ifName: 'net1',
      args: args('p'),
      config: conf(),
    });
    expect(d2.code).toBe(0);
    const d3 = await execPlugin(node, {
      command: 'DEL',
      containerID: 'never-added',
      netns: '/var/run/netns/nope',
      ifName: 'net1',
      args: args('x'),
      config: conf(),
    });
    expect(d3.code, d3.stdout).toBe(0);
    expect(await readdir(agent.stateDir)).toEqual([]);
  });

  it('an ADD whose IPAM fails (exhausted range) leaves nothing behind', async () => {
    const { node, agent, ipamDir, conf } = await setup({ vfs: 3 });
    const vfs = (await node.nic.state()).pfs[0]!.vfs;
    // Two addresses in the range: the third ADD cannot get one.
    const small = conf({
      ipam: {
        type: 'host-local',
        dataDir: ipamDir,
        ranges: [[{ subnet: '10.89.0.0/24', rangeStart: '10.89.0.10', rangeEnd: '10.89.0.11' }]],
      },
    });
    for (const i of [0, 1]) {
      const pod = await node.sb.makePod(`ok${i}`);
      const r = await execPlugin(node, {
        command: 'ADD',
        containerID: `c-ok${i}`,
        netns: pod.path,
        ifName: 'net1',
        args: args(`ok${i}`),
        config: { ...small, deviceID: vfs[i]!.pci },
      });
      expect(r.code, r.stdout + agent.log()).toBe(0);
    }
    const pod = await node.sb.makePod('full');
    const r = await execPlugin(node, {
      command: 'ADD',
      containerID: 'c-full',
      netns: pod.path,
      ifName: 'net1',
      args: args('full'),
      config: { ...small, deviceID: vfs[2]!.pci },
    });
    expect(r.code).toBe(1);
    expect(r.out).toMatchObject({
      msg: expect.stringMatching(/IPAM host-local: .*no IP addresses available/) as unknown,
    });
    expect((await vfNetdevs(node))[2]).toBe(vfs[2]!.netdev);
    expect(
      (await node.ovs.vsctl(['list-ports', 'br-int'])).stdout.split('\n').filter(Boolean),
    ).toEqual([vfs[0]!.representor, vfs[1]!.representor].sort());
    expect(
      (await node.sb.ip.run({ name: pod.netns }, ['-o', 'link', 'show'])).stdout,
    ).not.toContain('net1');
    expect((await readdir(agent.stateDir)).sort()).toEqual(['c-ok0-net1.json', 'c-ok1-net1.json']);
    expect(await ipamAllocations(ipamDir, 'net-a')).toHaveLength(2);
  });

  it('refuses a VF already used by a live pod with a clear error, changing nothing', async () => {
    const { node, agent, conf } = await setup();
    const vf = (await node.nic.state()).pfs[0]!.vfs[0]!;
    const podA = await node.sb.makePod('a');
    const podB = await node.sb.makePod('b');
    const a = await execPlugin(node, {
      command: 'ADD',
      containerID: 'c-a',
      netns: podA.path,
      ifName: 'net1',
      args: args('a'),
      config: conf({ deviceID: vf.pci }),
    });
    expect(a.code, a.stdout + agent.log()).toBe(0);
    const idsBefore = await externalIds(node.ovs, 'Interface', vf.representor!);
    const b = await execPlugin(node, {
      command: 'ADD',
      containerID: 'c-b',
      netns: podB.path,
      ifName: 'net1',
      args: args('b'),
      config: conf({ deviceID: vf.pci }),
    });
    expect(b.code).toBe(1);
    expect(b.out).toMatchObject({
      code: 7,
      msg: `VF ${vf.pci} is in use by pod default/a (container c-a)`,
    });
    expect(await externalIds(node.ovs, 'Interface', vf.representor!)).toEqual(idsBefore);
    expect(
      (await node.sb.ip.run({ name: podA.netns }, ['-o', 'link', 'show', 'net1'])).exitCode,
    ).toBe(0);
    expect(await readdir(agent.stateDir)).toEqual(['c-a-net1.json']);
  });

  it('attaches a vfio-pci VF (DPDK pod) by its PCI address: representor on OVS, no netdev moved', async () => {
    const { node, agent, conf } = await setup();
    const vf = (await node.nic.state()).pfs[0]!.vfs[3]!;
    const root = node.nic.sysfsRoot;
    await writeFile(path.join(root, 'sys/bus/pci/drivers/mlx5_core/unbind'), vf.pci);
    await eventually(async () => (await node.nic.state()).pfs[0]!.vfs[3]!.driver === null);
    await writeFile(path.join(root, `sys/bus/pci/devices/${vf.pci}/driver_override`), 'vfio-pci');
    await writeFile(path.join(root, 'sys/bus/pci/drivers/vfio-pci/bind'), vf.pci);
    await eventually(async () => (await node.nic.state()).pfs[0]!.vfs[3]!.driver === 'vfio-pci');
    const pod = await node.sb.makePod('dpdk');
    const r = await execPlugin(node, {
      command: 'ADD',
      containerID: 'c-dpdk',
      netns: pod.path,
      ifName: 'net1',
      args: args('dpdk'),
      config: conf({ cniVersion: '1.1.0', deviceID: vf.pci, ipam: undefined }),
    });
    expect(r.code, r.stdout + agent.log()).toBe(0);
    expect(r.out).toEqual({
      cniVersion: '1.1.0',
      interfaces: [{ name: 'net1', sandbox: pod.path, pciID: vf.pci }],
    });
    expect((await node.ovs.vsctl(['list-ports', 'br-int'])).stdout.trim()).toBe(vf.representor);
    const d = await execPlugin(node, {
      command: 'DEL',
      containerID: 'c-dpdk',
      netns: pod.path,
      ifName: 'net1',
      args: args('dpdk'),
      config: conf({ cniVersion: '1.1.0', deviceID: vf.pci, ipam: undefined }),
    });
    expect(d.code, d.stdout).toBe(0);
    expect((await node.ovs.vsctl(['list-ports', 'br-int'])).stdout.trim()).toBe('');
  });

  it('after a SIGKILL mid-ADD (port created, waiting for OVN), the restarted agent leaves nothing behind', async () => {
    const { node, agent, ipamDir, conf } = await setup({ ovn: true });
    const before = await vfNetdevs(node);
    const vf = (await node.nic.state()).pfs[0]!.vfs[2]!;
    const pod = await node.sb.makePod('crash');
    // No logical port exists for this iface-id, so ovn-installed never comes: the ADD waits
    // after the representor is on br-int, the VF in the pod and the address allocated.
    const pending = execPlugin(node, {
      command: 'ADD',
      containerID: 'c-crash',
      netns: pod.path,
      ifName: 'net1',
      args: args('crash'),
      config: conf({ deviceID: vf.pci }),
    });
    await eventually(
      async () => (await node.ovs.vsctl(['list-ports', 'br-int'])).stdout.includes(vf.representor!),
      10_000,
      'port attached',
    );
    await eventually(async () => (await vfNetdevs(node))[2] === null, 5000, 'VF in the pod');
    await agent.stop('SIGKILL');
    const r = await pending;
    expect(r.code).toBe(1);
    expect((await ipamAllocations(ipamDir, 'net-a')).length).toBe(1);
    const again = await startAgent(node, agentConfig(node));
    expect(again.log()).toMatch(/ADD never completed/);
    expect((await node.ovs.vsctl(['list-ports', 'br-int'])).stdout.trim()).toBe('');
    await eventually(
      async () => JSON.stringify(await vfNetdevs(node)) === JSON.stringify(before),
      5000,
      'VF home',
    );
    expect(await ipamAllocations(ipamDir, 'net-a')).toEqual([]);
    expect(await readdir(again.stateDir)).toEqual([]);
  });

  it('GC (CNI 1.1) removes the attachments the runtime no longer lists; CHECK catches a missing address', async () => {
    const { node, agent, ipamDir, conf } = await setup({ vfs: 2 });
    const vfs = (await node.nic.state()).pfs[0]!.vfs;
    const pods = [await node.sb.makePod('keep'), await node.sb.makePod('stale')];
    const results: Record<string, unknown>[] = [];
    for (const [i, pod] of pods.entries()) {
      const r = await execPlugin(node, {
        command: 'ADD',
        containerID: `c-${pod.name}`,
        netns: pod.path,
        ifName: 'net1',
        args: args(pod.name),
        config: conf({ cniVersion: '1.1.0', deviceID: vfs[i]!.pci }),
      });
      expect(r.code, r.stdout + agent.log()).toBe(0);
      results.push(r.out!);
    }
    // CHECK with the cached result passes, then fails once the address is gone.
    const check = () =>
      execPlugin(node, {
        command: 'CHECK',
        containerID: 'c-keep',
        netns: pods[0]!.path,
        ifName: 'net1',
        args: args('keep'),
        config: conf({ cniVersion: '1.1.0', deviceID: vfs[0]!.pci, prevResult: results[0] }),
      });
    expect((await check()).code).toBe(0);
    const addr = (results[0]!.ips as { address: string }[])[0]!.address;
    await node.sb.ip.run({ name: pods[0]!.netns }, ['addr', 'del', addr, 'dev', 'net1']);
    const bad = await check();
    expect(bad.code).toBe(1);
    expect((bad.out as { msg: string }).msg).toContain(`net1 lacks address ${addr}`);
    await node.sb.ip.run({ name: pods[0]!.netns }, ['addr', 'add', addr, 'dev', 'net1']);

    const gc = await execPlugin(node, {
      command: 'GC',
      config: {
        ...conf({ cniVersion: '1.1.0' }),
        'cni.dev/valid-attachments': [{ containerID: 'c-keep', ifname: 'net1' }],
      },
    });
    expect(gc.code, gc.stdout).toBe(0);
    expect(await readdir(agent.stateDir)).toEqual(['c-keep-net1.json']);
    expect((await node.ovs.vsctl(['list-ports', 'br-int'])).stdout.trim()).toBe(
      vfs[0]!.representor,
    );
    expect((await vfNetdevs(node))[1]).toBe(vfs[1]!.netdev);
    expect(await ipamAllocations(ipamDir, 'net-a')).toHaveLength(1);
    expect((await check()).code).toBe(0);
  });
});
