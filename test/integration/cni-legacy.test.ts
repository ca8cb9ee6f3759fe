import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentConfig, execPlugin, startAgent } from '../helpers/agent.js';
import { newNode } from '../helpers/sandbox.js';

const args = (pod: string) => ({
  IgnoreUnknown: '1',
  K8S_POD_NAMESPACE: 'default',
  K8S_POD_NAME: pod,
});

describe('CNI in legacy mode (PF eswitch legacy, sriov-cni behaviour)', () => {
  it('sets the VF knobs through the PF as configured, reverts them on DEL, and two legacy pods ping', async () => {
    const node = await newNode({ nic: { identity: 'e810', vfsPerPf: 2, eswitchMode: 'legacy' } });
    const agent = await startAgent(node, agentConfig(node));
    const pf = (await node.nic.state()).pfs[0]!;
    const ipamDir = path.join(node.sb.dir, 'ipam');
    const conf = (deviceID: string, mac: string) => ({
      cniVersion: '0.4.0',
      name: 'legacy-net',
      type: 'ovs-offload-cni',
      server_socket: agent.socket,
      mode: 'legacy',
      deviceID,
      mac,
      spoofchk: 'on',
      trust: 'on',
      link_state: 'enable',
      min_tx_rate: 100,
      max_tx_rate: 1000,
      ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet: '10.91.0.0/24' }]] },
    });
    const knobsBefore = pf.vfs.map((v) => v.knobs);
    await node.nic.clearCalls();
    const pods = [await node.sb.makePod('l1'), await node.sb.makePod('l2')];
    const ips: string[] = [];
    for (const [i, pod] of pods.entries()) {
      const mac = `0a:00:00:00:0a:0${i + 1}`;
      const r = await execPlugin(node, {
        command: 'ADD',
        containerID: `c-l${i}`,
        netns: pod.path,
        ifName: 'net1',
        args: args(pod.name),
        config: conf(pf.vfs[i]!.pci, mac),
      });
      expect(r.code, r.stdout + agent.log()).toBe(0);
      // 0.4.0 results carry the IP version
      expect(r.out).toMatchObject({ cniVersion: '0.4.0', ips: [{ version: '4', interface: 0 }] });
      ips.push((r.out!.ips as { address: string }[])[0]!.address.split('/')[0]!);
    }
    const calls = (await node.nic.calls('ip')).map((c) => c.argv.join(' '));
    expect(calls).toEqual([
      `link set dev ${pf.netdev} vf 0 mac 0a:00:00:00:0a:01 spoofchk on trust on state enable min_tx_rate 100 max_tx_rate 1000`,
      `link set dev ${pf.netdev} vf 1 mac 0a:00:00:00:0a:02 spoofchk on trust on state enable min_tx_rate 100 max_tx_rate 1000`,
    ]);
    const during = (await node.nic.state()).pfs[0]!.vfs;
    expect(during[0]!.knobs).toMatchObject({
      mac: '0a:00:00:00:0a:01',
      spoofchk: true,
      trust: true,
      linkState: 'enable',
      minTxRate: 100,
      maxTxRate: 1000,
    });
    const ping = await node.sb.execInPod(pods[0]!, [
      'ping',
      '-c',
      '2',
      '-i',
      '0.2',
      '-W',
      '2',
      ips[1]!,
    ]);
    expect(ping.stdout).toContain('2 received');
    for (const [i, pod] of pods.entries()) {
      const d = await execPlugin(node, {
        command: 'DEL',
        containerID: `c-l${i}`,
        netns: pod.path,
        ifName: 'net1',
        args: args(pod.name),
        config: conf(pf.vfs[i]!.pci, '0a:00:00:00:0a:01'),
      });
      expect(d.code, d.stdout).toBe(0);
    }
    const after = (await node.nic.state()).pfs[0]!.vfs;
    expect(after.map((v) => v.knobs)).toEqual(knobsBefore);
    expect(after.map((v) => v.netdev)).toEqual(pf.vfs.map((v) => v.netdev));
    expect((await node.ovs.vsctl(['list-ports', 'br-int'])).stdout.trim()).toBe('');
  });

  it('refuses legacy-only knobs on a switchdev PF with a clear error', async () => {
    const node = await newNode({ nic: { vfsPerPf: 1 } });
    const agent = await startAgent(node, agentConfig(node));
    const vf = (await node.nic.state()).pfs[0]!.vfs[0]!;
    const pod = await node.sb.makePod('x');
    const r = await execPlugin(node, {
      command: 'ADD',
      containerID: 'c-x',
      netns: pod.path,
      ifName: 'net1',
      args: args('x'),
      config: {
        cniVersion: '1.0.0',
        name: 'n',
        type: 'ovs-offload-cni',
        server_socket: agent.socket,
        mode: 'legacy',
        deviceID: vf.pci,
      },
    });
    expect(r.out).toMatchObject({
      code: 7,
      msg: expect.stringMatching(
        /mode: legacy needs PF 0000:03:00\.0 in legacy mode, but its eswitch is switchdev/,
      ) as unknown,
    });
  });
});
