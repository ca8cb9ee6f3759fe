import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  agentConfig,
  execConflist,
  execPlugin,
  ipamAllocations,
  startAgent,
} from '../helpers/agent.js';
import { eventually, externalIds, newNode } from '../helpers/sandbox.js';

/**
 * The pod path end to end: real agent process, real ovs-offload-cni executable invoked like a
 * container runtime, real host-local and portmap, real OVS + OVN, emulated switchdev NIC.
 */
describe('CNI in offload mode (switchdev PF, OVN)', () => {
  it('attaches two pods through [ovs-offload-cni, portmap], they ping, CHECK passes, DEL restores everything', async () => {
    const node = await newNode({ ovn: true, nic: { identity: 'mlx5', vfsPerPf: 4 } });
    const { sb, ovs, ovn, nic } = node;
    const agent = await startAgent(node, agentConfig(node));
    const provider = 'sriov-net1.default.ovn';
    await ovn!.createSwitch('sriov-net1');
    const ipamDir = path.join(sb.dir, 'ipam');
    const list = {
      cniVersion: '1.0.0',
      name: 'sriov-net1',
      plugins: [
        {
          type: 'ovs-offload-cni',
          server_socket: agent.socket,
          provider,
          ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet: '10.77.0.0/24' }]] },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    };
    const before = await nic.state();
    const vfs = before.pfs[0]!.vfs;
    const pods = [await sb.makePod('a'), await sb.makePod('b')];
    const results: Record<string, unknown>[] = [];
    for (const [i, pod] of pods.entries()) {
      const ifaceId = `${pod.name}.default.${provider}`;
      await ovn!.nbctl([
        'lsp-add',
        'sriov-net1',
        ifaceId,
        '--',
        'lsp-set-addresses',
        ifaceId,
        'unknown',
      ]);
      const call = {
        containerID: `ctr-${pod.name}`,
        netns: pod.path,
        ifName: 'net1',
        args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: pod.name },
      };
      const listWithDevice = {
        ...list,
        plugins: [{ ...list.plugins[0], deviceID: vfs[i]!.pci }, list.plugins[1]!],
      };
      const r = await execConflist(node, 'ADD', listWithDevice, call);
      expect(r.code, r.stdout + r.stderr + agent.log()).toBe(0);
      results.push(r.out!);
      expect(r.out).toMatchObject({
        cniVersion: '1.0.0',
        interfaces: [{ name: 'net1', sandbox: pod.path }],
        ips: [{ address: expect.stringMatching(/^10\.77\.0\.\d+\/24$/) as unknown, interface: 0 }],
      });
      const rep = vfs[i]!.representor!;
      expect(await externalIds(ovs, 'Interface', rep)).toMatchObject({
        'iface-id': ifaceId,
        'ovn-installed': 'true',
        'ovs-offload-owner': `node-${sb.id}`,
        vendor: 'ovs-offload',
        pod_name: pod.name,
        pod_namespace: 'default',
        pod_netns: pod.path,
        ip: (r.out!.ips as { address: string }[])[0]!.address.split('/')[0],
      });
      expect(await externalIds(ovs, 'Port', rep)).toMatchObject({
        'ovs-offload-owner': `node-${sb.id}`,
      });
      expect((await ovs.vsctl(['list-ports', 'br-int'])).stdout.split('\n')).toContain(rep);
    }
    const ipB = (results[1]!.ips as { address: string }[])[0]!.address.split('/')[0]!;
    const ping = await sb.execInPod(pods[0]!, ['ping', '-c', '2', '-i', '0.2', '-W', '2', ipB]);
    expect(ping.stdout).toContain('2 received');

    // CHECK with the cached result, as libcni does
    for (const [i, pod] of pods.entries()) {
      const call = {
        containerID: `ctr-${pod.name}`,
        netns: pod.path,
        ifName: 'net1',
        args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: pod.name },
      };
      const listWithDevice = {
        ...list,
        plugins: [{ ...list.plugins[0], deviceID: vfs[i]!.pci }, list.plugins[1]!],
      };
      const c = await execConflist(node, 'CHECK', listWithDevice, call, results[i]);
      expect(c.code, c.stdout).toBe(0);
    }

    // DEL, then DEL again: everything back as it was
    for (const [i, pod] of pods.entries()) {
      const call = {
        containerID: `ctr-${pod.name}`,
        netns: pod.path,
        ifName: 'net1',
        args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: pod.name },
      };
      const listWithDevice = {
        ...list,
        plugins: [{ ...list.plugins[0], deviceID: vfs[i]!.pci }, list.plugins[1]!],
      };
      const d1 = await execConflist(node, 'DEL', listWithDevice, call, results[i]);
      expect(d1.code, d1.stdout).toBe(0);
      const d2 = await execConflist(node, 'DEL', listWithDevice, call, results[i]);
      expect(d2.code, d2.stdout).toBe(0);
    }
    const after = await eventually(async () => {
      const st = await nic.state();
      return st.pfs[0]!.vfs.every((v, i) => v.netdev === vfs[i]!.netdev) ? st : null;
    });
    expect(after!.pfs[0]!.vfs.map((v) => v.netdev)).toEqual(vfs.map((v) => v.netdev));
    expect((await ovs.vsctl(['list-ports', 'br-int'])).stdout.trim()).toBe('');
    expect(await ipamAllocations(ipamDir, 'sriov-net1')).toEqual([]);
    const status = await execPlugin(node, {
      command: 'STATUS',
      config: {
        cniVersion: '1.1.0',
        name: 'sriov-net1',
        type: 'ovs-offload-cni',
        server_socket: agent.socket,
      },
    });
    expect(status.code, status.stdout).toBe(0);
    expect(await agent.stop()).toBe(0);
  });
});
