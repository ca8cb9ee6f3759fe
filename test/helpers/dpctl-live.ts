import type { Pod } from '../../src/sandbox/index.js';
import type { Node } from './sandbox.js';

/**
 * Real dump-flows output from a sandbox node (userspace datapath): three pods on VFs whose
 * representors sit on br-int, OpenFlow rules that make the datapath print conntrack,
 * recirculation, VLAN push, check_pkt_len, userspace and drop actions, and traffic through
 * them. Every dump form the parser must read is captured right after the traffic; idle
 * flows are kept for a minute so that all forms see them.
 */
export interface LiveCapture {
  /** ovs-appctl dpctl/dump-flows arguments → stdout. */
  dumps: Record<string, string>;
  /** Datapath port number → name, from dpctl/show. */
  ports: Map<string, string>;
  /** Representor names of pods a, b, c. */
  reps: [string, string, string];
  /** Pings pod b from pod a again, for checks that need traffic of their own. */
  ping(): Promise<void>;
}

export const LIVE_FORMS: Record<string, string[]> = {
  plain: [],
  '-m': ['-m'],
  '-m type=all': ['-m', 'type=all'],
  '--names': ['--names'],
  '--no-names -m': ['--no-names', '-m'],
  '-m -m': ['-m', '-m'],
  'type=ovs': ['type=ovs'],
  '-m type=ovs': ['-m', 'type=ovs'],
  'type=offloaded': ['type=offloaded'],
  '-m type=offloaded': ['-m', 'type=offloaded'],
};

/** IPs pod c sends to, each steered into a different kind of datapath action. */
const TARGET = {
  drop: '10.55.0.99',
  controller: '10.55.0.98',
  pktlen: '10.55.0.97',
  vlan: '10.55.0.96',
};

export async function captureLiveDumps(node: Node): Promise<LiveCapture> {
  const { sb, ovs, nic } = node;
  const pf = (await nic.state()).pfs[0]!;
  const names = ['a', 'b', 'c'];
  const reps: string[] = [];
  const pods: Pod[] = [];
  for (const [i, name] of names.entries()) {
    const vf = pf.vfs[i]!;
    const pod = await sb.makePod(name);
    pods.push(pod);
    reps.push(vf.representor!);
    await ovs.vsctl(['add-port', 'br-int', vf.representor!]);
    await sb.ip.run({ name: sb.hostNetns }, ['link', 'set', vf.representor!, 'up']);
    await sb.ip.run({ name: sb.hostNetns }, ['link', 'set', vf.netdev!, 'netns', pod.netns]);
    await sb.ip.batch({ name: pod.netns }, [
      ['link', 'set', vf.netdev!, 'name', 'net1'],
      ['addr', 'add', `10.55.0.${i + 1}/24`, 'dev', 'net1'],
      ['link', 'set', 'net1', 'up'],
    ]);
  }
  // keep idle datapath flows for a minute (default 10 s), so every form sees them on a busy host
  await ovs.vsctl(['set', 'Open_vSwitch', '.', 'other_config:max-idle=60000']);
  const ofport = async (iface: string) =>
    (await ovs.vsctl(['get', 'Interface', iface, 'ofport'])).stdout.trim();
  const [a, b] = [await ofport(reps[0]!), await ofport(reps[1]!)];
  const c = await ofport(reps[2]!);
  const flows = [
    'priority=0,actions=NORMAL',
    // a → b through conntrack: ct(zone=5),recirc, then ct(commit,…) on the new connection
    `priority=100,in_port=${a},ip,actions=ct(zone=5,table=1)`,
    `table=1,priority=100,in_port=${a},ct_state=+trk+new,ip,actions=ct(commit,zone=5,exec(set_field:0x1->ct_mark)),output:${b}`,
    `table=1,priority=100,in_port=${a},ct_state=+trk+est,ip,actions=output:${b}`,
    `table=1,priority=0,actions=NORMAL`,
    `priority=100,in_port=${c},ip,nw_dst=${TARGET.drop},actions=drop`,
    `priority=100,in_port=${c},ip,nw_dst=${TARGET.controller},actions=controller`,
    `priority=100,in_port=${c},ip,nw_dst=${TARGET.pktlen},actions=check_pkt_larger(200)->NXM_NX_REG0[0],resubmit(,2)`,
    `table=2,priority=100,reg0=0x1,actions=drop`,
    `table=2,priority=0,actions=output:${a}`,
    `priority=100,in_port=${c},ip,nw_dst=${TARGET.vlan},actions=mod_vlan_vid:100,output:${a},strip_vlan,output:${b}`,
  ];
  await sb.runner.run(['ovs-ofctl', 'add-flows', 'br-int', '-'], {
    env: ovs.env,
    input: flows.join('\n') + '\n',
  });
  // pod c sends to addresses nobody owns: static neighbours so ICMP leaves without ARP
  await sb.ip.batch(
    { name: pods[2]!.netns },
    Object.values(TARGET).map((ip, i) => [
      'neigh',
      'replace',
      ip,
      'lladdr',
      `02:00:00:00:00:0${i + 1}`,
      'dev',
      'net1',
    ]),
  );
  const ping = (pod: number, ip: string, count: number, size = 56) =>
    sb
      .execInPod(pods[pod]!, [
        'ping',
        '-c',
        String(count),
        '-i',
        '0.2',
        '-W',
        '1',
        '-s',
        String(size),
        ip,
      ])
      .catch(() => undefined); // unanswered pings exit 1: the datapath flows are what counts
  await ping(0, '10.55.0.2', 5);
  await Promise.all([
    ping(2, TARGET.drop, 1),
    ping(2, TARGET.controller, 2),
    ping(2, TARGET.pktlen, 3, 100),
    ping(2, TARGET.pktlen, 3, 400),
    ping(2, TARGET.vlan, 3),
  ]);
  const dumps: Record<string, string> = {};
  for (const [form, args] of Object.entries(LIVE_FORMS)) {
    dumps[form] = (await ovs.appctl(['dpctl/dump-flows', ...args])).stdout;
  }
  const show = (await ovs.appctl(['dpctl/show'])).stdout;
  const ports = new Map<string, string>();
  for (const m of show.matchAll(/^\s*port (\d+): (\S+)/gm)) ports.set(m[1]!, m[2]!);
  return {
    dumps,
    ports,
    reps: reps as [string, string, string],
    ping: async () => {
      await ping(0, '10.55.0.2', 3);
    },
  };
}
