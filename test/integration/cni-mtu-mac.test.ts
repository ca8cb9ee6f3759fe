import { readdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentConfig, execPlugin, ipamAllocations, startAgent } from '../helpers/agent.js';
import { eventually, newNode, type Node } from '../helpers/sandbox.js';

/**
 * Issue 13, items 2 and 3: the pod's MTU as Kube-OVN decides it (NetConf > Subnet > derived
 * from OVN's tunnel, capped at the uplink) on both ends, and the VF's administrative MAC set
 * through the PF in switchdev too, restored on DEL. Real agent, real ovs-offload-cni, real
 * OVS + OVN (Geneve encap on a tunnel interface of a chosen MTU), emulated switchdev NIC.
 */

const args = (pod: string) => ({
  IgnoreUnknown: '1',
  K8S_POD_NAMESPACE: 'default',
  K8S_POD_NAME: pod,
});

/** The MTU of a link, in the sandbox host netns (null: a pod's) or a pod's netns. */
async function linkMtu(node: Node, netns: string, dev: string): Promise<number> {
  const r = await node.sb.ip.run({ name: netns }, ['-j', 'link', 'show', 'dev', dev]);
  return (JSON.parse(r.stdout) as { mtu: number }[])[0]!.mtu;
}

/** `ip -j link show <PF>` through the emulated NIC's stand-in: the PF's vfinfo_list. */
async function vfinfo(node: Node): Promise<{ vf: number; address: string }[]> {
  const r = await node.sb.runner.run(
    ['ip', '-n', node.sb.hostNetns, '-j', 'link', 'show', node.nic.uplink(0)],
    { env: { PATH: node.nic.path } },
  );
  return (JSON.parse(r.stdout) as { vfinfo_list: { vf: number; address: string }[] }[])[0]!
    .vfinfo_list;
}

/** The `vf N …` lines of `ip link show <PF>` (text), as an operator reads them. */
async function vfLines(node: Node): Promise<string[]> {
  const r = await node.sb.runner.run(
    ['ip', '-n', node.sb.hostNetns, 'link', 'show', node.nic.uplink(0)],
    { env: { PATH: node.nic.path } },
  );
  return r.stdout.split('\n').filter((l) => /^\s+vf \d+/.test(l));
}

describe('pod MTU (offload mode, OVN with a Geneve overlay)', () => {
  it('derives it from the tunnel interface (9000 - 100 = 8900), sets it on the VF and the representor, a DF ping of that size passes and one byte more is refused; capped at the uplink; restored on DEL', async () => {
    const node = await newNode({
      ovn: { encapMtu: 9000, encapType: 'geneve' },
      nic: { identity: 'mlx5', vfsPerPf: 3 },
    });
    const { sb, ovs, ovn, nic } = node;
    const host = sb.hostNetns;
    // A jumbo-frame node: the uplink carries 9000, so the tunnel's 8900 is not capped.
    await sb.ip.run({ name: host }, ['link', 'set', 'dev', nic.uplink(0), 'mtu', '9000']);
    expect(await linkMtu(node, host, ovn!.encapLink)).toBe(9000);
    const agent = await startAgent(node, agentConfig(node));
    const provider = 'sriov-net1.default.ovn';
    await ovn!.createSwitch('sriov-net1');
    const ipamDir = path.join(sb.dir, 'ipam');
    const vfs = (await nic.state()).pfs[0]!.vfs;
    const before = await Promise.all(vfs.map((v) => linkMtu(node, host, v.netdev!)));
    const repBefore = await Promise.all(vfs.map((v) => linkMtu(node, host, v.representor!)));
    expect(before).toEqual([1500, 1500, 1500]);
    const conf = (i: number) => ({
      cniVersion: '1.0.0',
      name: 'sriov-net1',
      type: 'ovs-offload-cni',
      server_socket: agent.socket,
      provider,
      deviceID: vfs[i]!.pci,
      ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet: '10.78.0.0/24' }]] },
    });
    const pods = [await sb.makePod('a'), await sb.makePod('b'), await sb.makePod('c')];
    const add = async (i: number) => {
      const pod = pods[i]!;
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
      const r = await execPlugin(node, {
        command: 'ADD',
        containerID: `ctr-${pod.name}`,
        netns: pod.path,
        ifName: 'net1',
        args: args(pod.name),
        config: conf(i),
      });
      expect(r.code, r.stdout + agent.log()).toBe(0);
      return (r.out!.ips as { address: string }[])[0]!.address.split('/')[0]!;
    };
    const repMtus = async (rep: string) => {
      const r = await ovs.vsctl(['get', 'Interface', rep, 'mtu_request', 'mtu']);
      return r.stdout.trim().split('\n').map(Number);
    };

    const ips = [await add(0), await add(1)];
    for (const i of [0, 1]) {
      expect(await linkMtu(node, pods[i]!.netns, 'net1'), `pod ${i} VF MTU`).toBe(8900);
      // mtu_request on the port, and the MTU ovs-vswitchd set on the representor netdev
      expect(await repMtus(vfs[i]!.representor!), `representor ${i}`).toEqual([8900, 8900]);
      expect(await linkMtu(node, host, vfs[i]!.representor!)).toBe(8900);
    }
    expect(agent.log()).toMatch(/"source":"encap".*"msg":"pod MTU"/);

    // DF set (-M do): 8900 - 20 (IPv4) - 8 (ICMP) = 8872 bytes of payload fit exactly...
    const fits = await sb.execInPod(pods[0]!, [
      'ping',
      '-M',
      'do',
      '-s',
      '8872',
      '-c',
      '2',
      '-i',
      '0.2',
      '-W',
      '2',
      ips[1]!,
    ]);
    expect(fits.stdout).toContain('2 received');
    expect(fits.stdout).toMatch(/8880 bytes from/);
    // ...and one byte more is refused by the pod's own stack, before it leaves.
    const tooBig = await sb.runner.run(
      [
        'ip',
        'netns',
        'exec',
        pods[0]!.netns,
        'ping',
        '-M',
        'do',
        '-s',
        '8873',
        '-c',
        '1',
        '-W',
        '1',
        ips[1]!,
      ],
      { okExitCodes: [1, 2] },
    );
    expect(tooBig.exitCode).not.toBe(0);
    expect(tooBig.stdout + tooBig.stderr).toMatch(/message too long, mtu=8900/);

    // The uplink back at 1500: the derived 8900 is capped to what the port carries.
    await sb.ip.run({ name: host }, ['link', 'set', 'dev', nic.uplink(0), 'mtu', '1500']);
    await add(2);
    expect(await linkMtu(node, pods[2]!.netns, 'net1')).toBe(1500);
    expect(await repMtus(vfs[2]!.representor!)).toEqual([1500, 1500]);

    for (const [i, pod] of pods.entries()) {
      const d = await execPlugin(node, {
        command: 'DEL',
        containerID: `ctr-${pod.name}`,
        netns: pod.path,
        ifName: 'net1',
        args: args(pod.name),
        config: conf(i),
      });
      expect(d.code, d.stdout + agent.log()).toBe(0);
    }
    await eventually(async () => {
      const st = await nic.state();
      return st.pfs[0]!.vfs.every((v, i) => v.netdev === vfs[i]!.netdev);
    });
    // Both ends as they were: the VF netdevs and the representors.
    expect(await Promise.all(vfs.map((v) => linkMtu(node, host, v.netdev!)))).toEqual(before);
    expect(await Promise.all(vfs.map((v) => linkMtu(node, host, v.representor!)))).toEqual(
      repBefore,
    );
    expect((await ovs.vsctl(['list-ports', 'br-int'])).stdout.trim()).toBe('');
    expect(await ipamAllocations(ipamDir, 'sriov-net1')).toEqual([]);
    console.log(
      [
        `encap ${ovn!.encapLink} (${ovn!.encapIp}) MTU 9000, geneve, uplink 9000 -> pods a, b: 8900`,
        `ping -M do -s 8872: ${fits.stdout.split('\n').find((l) => /bytes from/.test(l)) ?? '?'}`,
        `ping -M do -s 8873: ${(tooBig.stdout + tooBig.stderr).split('\n').find((l) => /too long/.test(l)) ?? '?'}`,
        'uplink 1500 -> pod c: 1500 (capped)',
        `representor MTU restores logged: ${(agent.log().match(/representor MTU restored/g) ?? []).length}`,
      ].join('\n'),
    );
  });

  it('refuses a NetConf mtu above the PF uplink MTU with code 7, changing nothing', async () => {
    const node = await newNode({ nic: { identity: 'mlx5', vfsPerPf: 1 } });
    const agent = await startAgent(node, agentConfig(node));
    const vf = (await node.nic.state()).pfs[0]!.vfs[0]!;
    const ipamDir = path.join(node.sb.dir, 'ipam');
    const pod = await node.sb.makePod('big');
    const r = await execPlugin(node, {
      command: 'ADD',
      containerID: 'ctr-big',
      netns: pod.path,
      ifName: 'net1',
      args: args('big'),
      config: {
        cniVersion: '1.0.0',
        name: 'sriov-net1',
        type: 'ovs-offload-cni',
        server_socket: agent.socket,
        deviceID: vf.pci,
        mtu: 9000,
        ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet: '10.79.0.0/24' }]] },
      },
    });
    expect(r.code).toBe(1);
    expect(r.out).toMatchObject({
      code: 7,
      msg: expect.stringMatching(/mtu: 9000 is above the PF uplink's MTU 1500/) as unknown,
    });
    // Nothing changed: no state file, no lease, no port, the VF at home as it was.
    expect(await readdir(agent.stateDir)).toEqual([]);
    expect(await ipamAllocations(ipamDir, 'sriov-net1')).toEqual([]);
    expect((await node.ovs.vsctl(['list-ports', 'br-int'])).stdout.trim()).toBe('');
    const after = (await node.nic.state()).pfs[0]!.vfs[0]!;
    expect(after.netdev).toBe(vf.netdev);
    expect(await linkMtu(node, node.sb.hostNetns, vf.netdev!)).toBe(1500);
    expect(
      (await node.nic.calls())
        .filter((c) => c.tool === 'ip' || c.tool === 'devlink')
        .filter((c) => c.argv.includes('set')),
    ).toEqual([]);
  });
});

describe('VF administrative MAC through the PF in switchdev (offload mode)', () => {
  it('vfinfo_list carries the MAC after ADD and the previous administrative MAC after DEL, for a netdev VF and a vfio-pci VF', async () => {
    const node = await newNode({ nic: { identity: 'mlx5', vfsPerPf: 2 } });
    const { sb, nic } = node;
    const agent = await startAgent(node, agentConfig(node));
    const { pci: pfPci, vfs } = (await nic.state()).pfs[0]!;
    // VF 1 had an administrative MAC before: set through devlink's port function (the
    // switchdev-native door), which the emulated NIC keeps in the same place as the PF's.
    await sb.runner.run(
      ['devlink', 'port', 'function', 'set', `pci/${pfPci}/2`, 'hw_addr', '0a:00:00:00:00:99'],
      { env: { PATH: nic.path } },
    );
    // VF 1 to vfio-pci (a DPDK pod): no netdev, the administrative MAC is all it gets.
    const root = nic.sysfsRoot;
    await writeFile(path.join(root, 'sys/bus/pci/drivers/mlx5_core/unbind'), vfs[1]!.pci);
    await eventually(async () => (await nic.state()).pfs[0]!.vfs[1]!.driver === null);
    await writeFile(
      path.join(root, `sys/bus/pci/devices/${vfs[1]!.pci}/driver_override`),
      'vfio-pci',
    );
    await writeFile(path.join(root, 'sys/bus/pci/drivers/vfio-pci/bind'), vfs[1]!.pci);
    await eventually(async () => (await nic.state()).pfs[0]!.vfs[1]!.driver === 'vfio-pci');

    const beforeInfo = await vfinfo(node);
    const beforeLines = await vfLines(node);
    expect(beforeInfo.map((v) => v.address)).toEqual(['00:00:00:00:00:00', '0a:00:00:00:00:99']);
    const macs = ['0a:58:0a:10:00:05', '0a:58:0a:10:00:06'];
    const pods = [await sb.makePod('m0'), await sb.makePod('m1')];
    const conf = (i: number) => ({
      cniVersion: '1.1.0',
      name: 'sriov-net1',
      type: 'ovs-offload-cni',
      server_socket: agent.socket,
      deviceID: vfs[i]!.pci,
      // NetConf `mac` for one, `runtimeConfig.mac` (the CNI `mac` capability) for the other
      ...(i === 0 ? { mac: macs[0] } : { runtimeConfig: { mac: macs[1] } }),
    });
    for (const [i, pod] of pods.entries()) {
      const r = await execPlugin(node, {
        command: 'ADD',
        containerID: `ctr-${pod.name}`,
        netns: pod.path,
        ifName: 'net1',
        args: args(pod.name),
        config: conf(i),
      });
      expect(r.code, r.stdout + agent.log()).toBe(0);
    }
    const during = await vfinfo(node);
    expect(during.map((v) => v.address)).toEqual(macs);
    const duringLines = await vfLines(node);
    // The netdev VF carries it in the pod too.
    const inPod = await sb.ip.run({ name: pods[0]!.netns }, ['-j', 'link', 'show', 'dev', 'net1']);
    expect((JSON.parse(inPod.stdout) as { address: string }[])[0]!.address).toBe(macs[0]);
    // Through the PF, as Kube-OVN's setVfMac does: one `ip link set <PF> vf N mac` per VF.
    const set = (await nic.calls('ip')).filter((c) => c.argv.includes('mac'));
    expect(set.map((c) => c.argv.join(' '))).toEqual([
      `link set dev ${nic.uplink(0)} vf 0 mac ${macs[0]}`,
      `link set dev ${nic.uplink(0)} vf 1 mac ${macs[1]}`,
    ]);
    expect(set.every((c) => c.code === 0)).toBe(true);

    for (const [i, pod] of pods.entries()) {
      const d = await execPlugin(node, {
        command: 'DEL',
        containerID: `ctr-${pod.name}`,
        netns: pod.path,
        ifName: 'net1',
        args: args(pod.name),
        config: conf(i),
      });
      expect(d.code, d.stdout + agent.log()).toBe(0);
    }
    const after = await vfinfo(node);
    expect(after.map((v) => v.address)).toEqual(beforeInfo.map((v) => v.address));
    const lines = (await vfLines(node)).join('\n');
    expect(lines).toMatch(/vf 0 +link\/ether 00:00:00:00:00:00 /);
    expect(lines).toMatch(/vf 1 +link\/ether 0a:00:00:00:00:99 /);
    console.log(
      `vf lines before ADD:\n${beforeLines.join('\n')}\nafter ADD:\n${duringLines.join('\n')}\nafter DEL:\n${lines}`,
    );
  });
});
