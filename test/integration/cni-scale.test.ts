import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentConfig, execPlugin, ipamAllocations, startAgent } from '../helpers/agent.js';
import { newNode } from '../helpers/sandbox.js';

describe('CNI under concurrency', () => {
  it('20 concurrent ADDs on 20 VFs all succeed, each VF used once; 20 concurrent DELs return every VF', async () => {
    const node = await newNode({ nic: { vfsPerPf: 20, totalVfs: 32 } });
    const agent = await startAgent(node, agentConfig(node));
    const vfs = (await node.nic.state()).pfs[0]!.vfs;
    expect(vfs).toHaveLength(20);
    const ipamDir = path.join(node.sb.dir, 'ipam');
    const pods = await Promise.all(vfs.map((_, i) => node.sb.makePod(`p${i}`)));
    const conf = (deviceID: string) => ({
      cniVersion: '1.0.0',
      name: 'scale',
      type: 'ovs-offload-cni',
      server_socket: agent.socket,
      deviceID,
      ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet: '10.92.0.0/24' }]] },
    });
    const call = (i: number) => ({
      containerID: `c-${i}`,
      netns: pods[i]!.path,
      ifName: 'net1',
      args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'scale', K8S_POD_NAME: `p${i}` },
      config: conf(vfs[i]!.pci),
    });
    const adds = await Promise.all(
      vfs.map((_, i) => execPlugin(node, { command: 'ADD', ...call(i) })),
    );
    adds.forEach((r, i) => expect(r.code, `ADD ${i}: ${r.stdout}`).toBe(0));
    const addresses = new Set(adds.map((r) => (r.out!.ips as { address: string }[])[0]!.address));
    expect(addresses.size).toBe(20);
    const ports = (await node.ovs.vsctl(['list-ports', 'br-int'])).stdout
      .split('\n')
      .filter(Boolean);
    expect(ports.sort()).toEqual(vfs.map((v) => v.representor!).sort());
    for (const [i, pod] of pods.entries()) {
      const l = await node.sb.ip.run({ name: pod.netns }, ['-o', 'link', 'show', 'net1']);
      expect(l.exitCode, `pod ${i}`).toBe(0);
    }
    const dels = await Promise.all(
      vfs.map((_, i) => execPlugin(node, { command: 'DEL', ...call(i) })),
    );
    dels.forEach((r, i) => expect(r.code, `DEL ${i}: ${r.stdout}`).toBe(0));
    expect((await node.ovs.vsctl(['list-ports', 'br-int'])).stdout.trim()).toBe('');
    const after = (await node.nic.state()).pfs[0]!.vfs;
    expect(after.map((v) => v.netdev)).toEqual(vfs.map((v) => v.netdev));
    expect(await ipamAllocations(ipamDir, 'scale')).toEqual([]);
    expect(agent.log()).not.toMatch(/"level":50/);
  });
});
