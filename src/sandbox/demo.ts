import * as path from 'node:path';
import { files, packageRoot } from '../sys/index.js';
import { launchAgent, sandboxAgentConfig, type AgentProcess } from './agent-process.js';
import { CniRunner, type CniInvocation, type ConfList } from './cni-runner.js';
import { emulateNic, type EmulatedNic } from './nic/emulate.js';
import { startOvn, type OvnInstance } from './ovn.js';
import { SANDBOX_DPDK_DEVARGS, startOvs, type OvsInstance, type OvsOptions } from './ovs.js';
import { Sandbox, type Pod } from './sandbox.js';

export interface DemoPod {
  pod: Pod;
  vf: string;
  representor: string | null;
  ifaceId: string;
  address: string;
  result: unknown;
}

export interface DemoNode {
  sb: Sandbox;
  ovs: OvsInstance;
  ovn: OvnInstance;
  nic: EmulatedNic;
  agent: AgentProcess;
  cni: CniRunner;
  nad: ConfList;
  pods: DemoPod[];
  /** Where the agent's metrics listener is reachable from the root netns. */
  metricsUrl: string;
}

export const DEMO_PROVIDER = 'sriov-net1.default.ovn';

/** The NAD as Multus runs it for one pod: the allocated VF in runtimeConfig.deviceID. */
function withDevice(nad: ConfList, deviceID: string): ConfList {
  return {
    ...nad,
    plugins: nad.plugins.map((p, j) => (j === 0 ? { ...p, runtimeConfig: { deviceID } } : p)),
  };
}

/** The CNI environment a runtime gives the demo pod `name`'s second interface. */
function invocation(pod: Pod): CniInvocation {
  return {
    containerID: `demo-${pod.name}`,
    netns: pod.path,
    ifName: 'net1',
    args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: pod.name },
  };
}

/**
 * The embedded default: one emulated Kubernetes node. A ConnectX-5 identity NIC starts in
 * legacy mode with no VFs; the agent's `nics[]` policy brings it to 4 VFs in switchdev (what
 * an operator's config does on a real node); two pods get VFs through the real CNI
 * executable with a Multus-style NAD (ovs-offload-cni with a Kube-OVN provider and
 * host-local IPAM, then portmap), OVN binds their representors by iface-id.
 */
export async function buildDemoNode(
  step: (what: string, detail?: string) => void,
  opts: { keep: boolean; datapath?: OvsOptions['datapath'] },
): Promise<DemoNode> {
  const dpdk = opts.datapath === 'netdev-dpdk';
  const sb = await Sandbox.create();
  step('sandbox node', `host netns ${sb.hostNetns}, files in ${sb.dir}`);
  const ovs = await startOvs(sb, { datapath: opts.datapath ?? 'netdev' });
  step(
    dpdk
      ? 'Open vSwitch with DPDK (ovs-vswitchd-dpdk, EAL on 2 MB hugepages, one sleeping PMD, hw-offload=true)'
      : 'Open vSwitch (ovsdb-server + ovs-vswitchd, userspace datapath, hw-offload=true)',
    ovs.dbTarget,
  );
  // As a Kube-OVN offload node is set up: hw-offload on, then ovs-vswitchd restarted (it
  // reads the setting only at start).
  await ovs.vsctl(['set', 'Open_vSwitch', '.', 'other_config:hw-offload=true']);
  await ovs.restartVswitchd();
  const ovn = await startOvn(sb, ovs);
  step(
    'OVN (NB/SB, ovn-northd, ovn-controller): the Kube-OVN control plane',
    `chassis ${ovn.chassis}`,
  );
  const nic = await emulateNic(sb, {
    identity: 'mlx5',
    pfs: 1,
    vfsPerPf: 0,
    eswitchMode: 'legacy',
    totalVfs: 8,
  });
  step(
    'emulated NIC: ConnectX-5 identity (15b3:1017), legacy mode, 0 VFs',
    `sysfs root ${nic.sysfsRoot}`,
  );
  const { sandboxIp } = await sb.connectToRoot();
  const config = {
    ...sandboxAgentConfig(sb, ovs, nic),
    ovs: { ...sandboxAgentConfig(sb, ovs, nic).ovs, hwOffload: true },
    nics: [
      {
        pci: '0000:03:00.0',
        numVfs: 4,
        eswitchMode: 'switchdev',
        // The emulated representors are veth ends: DPDK reaches them through net_af_packet.
        ...(dpdk ? { representorType: 'dpdk', dpdkDevargs: SANDBOX_DPDK_DEVARGS } : {}),
      },
    ],
    metrics: { listen: `${sandboxIp}:9476`, flowSampleIntervalMs: 2000 },
  };
  const agent = await launchAgent(sb, nic, config, { detached: opts.keep, env: ovs.env });
  const pf = (await nic.state()).pfs[0];
  if (!pf || pf.mode !== 'switchdev' || pf.vfs.length !== 4)
    throw new Error('the agent did not bring the NIC to 4 VFs in switchdev');
  step(
    'agent started: nics[] policy applied (sriov_numvfs 4, devlink eswitch switchdev, representors up)',
    pf.vfs.map((v) => `${v.pci}→${v.representor ?? '?'}`).join('  '),
  );

  if (dpdk) {
    // A real PMD brings its representor's link up when OVS starts the port; net_af_packet
    // cannot, so the emulated NIC's side does it here.
    for (const v of pf.vfs) {
      if (v.representor)
        await sb.ip.run({ name: sb.hostNetns }, ['link', 'set', 'dev', v.representor, 'up']);
    }
  }

  const cniBin = path.join(sb.dir, 'cni-bin');
  await files.mkdir(cniBin);
  await files.symlink(
    path.join(packageRoot(), 'bin', 'ovs-offload-cni'),
    path.join(cniBin, 'ovs-offload-cni'),
  );
  const cni = new CniRunner(sb.runner, `${cniBin}:/usr/lib/cni`, sb.inHost([]));
  const nad: ConfList = {
    cniVersion: '1.0.0',
    name: 'sriov-net1',
    plugins: [
      {
        type: 'ovs-offload-cni',
        server_socket: agent.socket,
        provider: DEMO_PROVIDER,
        ipam: {
          type: 'host-local',
          dataDir: path.join(sb.dir, 'ipam'),
          ranges: [[{ subnet: '10.99.0.0/24' }]],
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  await ovn.createSwitch('sriov-net1');
  const pods: DemoPod[] = [];
  for (const [i, name] of ['web', 'db'].entries()) {
    const vf = pf.vfs[i];
    if (!vf) throw new Error('no VF');
    const pod = await sb.makePod(name);
    const ifaceId = `${name}.default.${DEMO_PROVIDER}`;
    // Addresses come from IPAM, so the logical port accepts any ("unknown").
    await ovn.nbctl([
      '--may-exist',
      'lsp-add',
      'sriov-net1',
      ifaceId,
      '--',
      'lsp-set-addresses',
      ifaceId,
      'unknown',
    ]);
    const result = await cni.run('ADD', withDevice(nad, vf.pci), invocation(pod));
    const address =
      ((result as { ips?: { address: string }[] }).ips?.[0]?.address ?? '').split('/')[0] ?? '';
    pods.push({ pod, vf: vf.pci, representor: vf.representor, ifaceId, address, result });
    step(
      `pod default/${name} via ovs-offload-cni → portmap`,
      `net1 ${address}, VF ${vf.pci}, representor ${vf.representor ?? '?'} on br-int, iface-id ${ifaceId}`,
    );
  }
  return { sb, ovs, ovn, nic, agent, cni, nad, pods, metricsUrl: `http://${sandboxIp}:9476` };
}

/** DEL both pods through CNI, stop the agent, remove the sandbox. */
export async function teardownDemoNode(node: DemoNode): Promise<string[]> {
  for (const p of node.pods) {
    await node.cni.run('DEL', withDevice(node.nad, p.vf), invocation(p.pod), p.result);
  }
  await node.agent.stop();
  return node.sb.destroy();
}
