import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OWNER_KEY } from '../../src/ovs/vswitch-types.js';
import { agentConfig, execPlugin, startAgent } from '../helpers/agent.js';
import { FakePodsApi } from '../helpers/fake-pods-api.js';
import { eventually, newNode, type Node } from '../helpers/sandbox.js';

/**
 * Kube-OVN's rate annotations on pods made through the real ovs-offload-cni and agent
 * (real OVSDB and ovs-vswitchd, userspace datapath; representors are veth ends), with a
 * Kubernetes API double serving the pods, their list and their watch.
 *
 * What is real here and what is not: ovs-vswitchd applies the Port's linux-htb QoS as a real
 * `tc` htb qdisc on the representor, so the pod's ingress limit is measured with iperf3.
 * Ingress policing (the pod's egress limit) needs a tc ingress qdisc with a `basic` or
 * `matchall` classifier, and this kernel has neither (no cls_basic, no cls_matchall): the
 * OVSDB rows are checked and ovs-vswitchd's own log line about the policer is shown, but that
 * direction is not measured.
 */

const doubles: FakePodsApi[] = [];
const daemons: string[] = [];
afterAll(async () => {
  for (const pidFile of daemons) {
    if (existsSync(pidFile)) spawnSync('kill', [readFileSync(pidFile, 'utf8').trim()]);
  }
  for (const d of doubles) await d.stop();
});

const provider = 'sriov-net1.default.ovn';
const ann = (what: string) => `${provider}.kubernetes.io/${what}`;

async function vsctl(node: Node, args: string[]): Promise<string> {
  return (await node.ovs.vsctl(args)).stdout.trim();
}

/** A map column as an object (ovs-vsctl --format=json get). */
async function mapColumn(
  node: Node,
  table: string,
  record: string,
  column: string,
): Promise<Record<string, string>> {
  const out = await vsctl(node, ['--format=json', '--columns', column, 'list', table, record]);
  const parsed = JSON.parse(out) as { data: [['map', [string, string][]]][] };
  return Object.fromEntries(parsed.data[0]?.[0]?.[1] ?? []);
}

/** The Port's QoS and queue 0 as OVSDB has them (null: no QoS). */
async function portQos(node: Node, port: string) {
  const qos = await vsctl(node, ['get', 'Port', port, 'qos']);
  if (qos === '[]') return null;
  const queue = /^\{0=([0-9a-f-]+)\}$/.exec(await vsctl(node, ['get', 'QoS', qos, 'queues']))?.[1];
  return {
    type: await vsctl(node, ['get', 'QoS', qos, 'type']),
    externalIds: await mapColumn(node, 'QoS', qos, 'external_ids'),
    queue: queue
      ? {
          otherConfig: await mapColumn(node, 'Queue', queue, 'other_config'),
          externalIds: await mapColumn(node, 'Queue', queue, 'external_ids'),
        }
      : null,
  };
}

async function policing(node: Node, iface: string) {
  return {
    rate: Number(await vsctl(node, ['get', 'Interface', iface, 'ingress_policing_rate'])),
    burst: Number(await vsctl(node, ['get', 'Interface', iface, 'ingress_policing_burst'])),
  };
}

/** iperf3 from one pod to another: the receiver's rate over the run, warm-up omitted. */
function iperf(node: Node, clientNs: string, server: string, extra: string[] = []): number {
  const r = spawnSync(
    'ip',
    ['netns', 'exec', clientNs, 'iperf3', '-c', server, '-t', '4', '-O', '1', '-J', ...extra],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const j = JSON.parse(r.stdout || '{}') as {
    error?: string;
    end?: { sum_received?: { bits_per_second?: number } };
  };
  if (r.status !== 0 || j.error) throw new Error(`iperf3: ${j.error ?? r.stderr}`);
  return j.end?.sum_received?.bits_per_second ?? 0;
}

const mbit = (bps: number) => `${(bps / 1e6).toFixed(2)} Mbit/s`;

describe('rate limits from Kube-OVN annotations', () => {
  it('ADD sets the rows SetInterfaceBandwidth sets, a changed annotation is applied within seconds (also after 410 Gone), iperf3 sees the htb limit, DEL removes the rows', async () => {
    const node = await newNode({ nic: { vfsPerPf: 2 } });
    const { rootIp } = await node.sb.connectToRoot();
    const api = new FakePodsApi(rootIp);
    doubles.push(api);
    await api.start();
    const kubeconfig = await api.kubeconfig(node.sb.dir);
    const agent = await startAgent(
      node,
      agentConfig(node, { kubernetes: { kubeconfig, annotationWaitMs: 20_000 } }),
    );
    const vfs = (await node.nic.state()).pfs[0]!.vfs;
    const pods = [await node.sb.makePod('bwa'), await node.sb.makePod('bwb')];
    const ips = ['10.95.0.11', '10.95.0.12'];
    // Pod a: only an egress limit with an explicit burst. Pod b: ingress and egress, default
    // bursts. As kube-ovn-controller writes them (Mbit/s; bursts in Mbit).
    const limits: Record<string, string>[] = [
      { [ann('egress_rate')]: '30', [ann('egress_burst')]: '4' },
      { [ann('ingress_rate')]: '20', [ann('egress_rate')]: '10' },
    ];
    for (const [i, pod] of pods.entries()) {
      api.setAnnotations('default', pod.name, {
        [ann('ip_address')]: ips[i]!,
        [ann('cidr')]: '10.95.0.0/24',
        [ann('gateway')]: '10.95.0.1',
        [ann('routed')]: 'true',
        ...limits[i],
      });
    }
    const conf = (i: number) => ({
      cniVersion: '1.0.0',
      name: 'sriov-net1',
      type: 'ovs-offload-cni',
      server_socket: agent.socket,
      provider,
      deviceID: vfs[i]!.pci,
    });
    const call = (i: number) => ({
      containerID: `ctr-bw${i}`,
      netns: pods[i]!.path,
      ifName: 'net1',
      args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: pods[i]!.name },
    });
    for (const i of [0, 1]) {
      const r = await execPlugin(node, { command: 'ADD', ...call(i), config: conf(i) });
      expect(r.code, r.stdout + agent.log()).toBe(0);
    }
    const [repA, repB] = [vfs[0]!.representor!, vfs[1]!.representor!];

    // What Kube-OVN's SetInterfaceBandwidth(pod, ns, iface, egress, ingress, egressBurst,
    // ingressBurst) writes for these annotations (pkg/ovs/ovs-vsctl_linux.go):
    //   pod a, egress_rate=30 egress_burst=4:
    //     ovs-vsctl set interface <rep> ingress_policing_rate=30000 ingress_policing_burst=4000
    //   pod b, egress_rate=10 (burst: computeIngressPolicingBurstKbit default, 80%):
    //     ovs-vsctl set interface <rep> ingress_policing_rate=10000 ingress_policing_burst=8000
    //   pod b, ingress_rate=20 (burst: computeHtbBurstBytes default, rate/10 bytes):
    //     ovs-vsctl create queue other_config:max-rate=20000000 other_config:burst=2000000 \
    //       external-ids:iface-id=bwb.default.<provider> external-ids:pod=default/bwb
    //     ovs-vsctl create qos queues:0=<queue> type=linux-htb \
    //       external-ids:iface-id=bwb.default.<provider> external-ids:pod=default/bwb
    //     ovs-vsctl set port <rep> qos=<qos>
    // The same external_ids, plus our owner key (QoS and Queue are ours to delete).
    const idsB = {
      'iface-id': `bwb.default.${provider}`,
      pod: 'default/bwb',
      [OWNER_KEY]: agentConfig(node).nodeName,
    };
    expect(await policing(node, repA)).toEqual({ rate: 30_000, burst: 4000 });
    expect(await portQos(node, repA)).toBeNull();
    expect(await policing(node, repB)).toEqual({ rate: 10_000, burst: 8000 });
    expect(await portQos(node, repB)).toEqual({
      type: 'linux-htb',
      externalIds: idsB,
      queue: { otherConfig: { 'max-rate': '20000000', burst: '2000000' }, externalIds: idsB },
    });
    const side = [
      ['row', 'Kube-OVN (same annotations)', 'ovs-offload'],
      [
        'a Interface ingress_policing_rate/burst',
        '30000/4000',
        JSON.stringify(await policing(node, repA)),
      ],
      [
        'b Interface ingress_policing_rate/burst',
        '10000/8000',
        JSON.stringify(await policing(node, repB)),
      ],
      ['b QoS type', 'linux-htb', (await portQos(node, repB))?.type],
      [
        'b Queue other_config',
        'max-rate=20000000 burst=2000000',
        JSON.stringify((await portQos(node, repB))?.queue?.otherConfig),
      ],
    ];
    console.log(side.map((r) => r.join(' | ')).join('\n'));

    // ovs-vswitchd tried to police the representors: on this kernel it cannot (no
    // cls_basic/cls_matchall). Its own words:
    const logFile = path.join(node.ovs.env.OVS_LOGDIR!, 'ovs-vswitchd.log');
    const policerLine = await eventually(
      async () =>
        readFileSync(logFile, 'utf8')
          .split('\n')
          .find((l) => l.includes(repB) && /polic/i.test(l)) ?? null,
      10_000,
      'ovs-vswitchd log line about policing',
    );
    console.log(`ovs-vswitchd on policing ${repB}: ${policerLine}`);

    // iperf3: a → b leaves OVS through b's representor, shaped by its htb queue 0.
    const pidFile = path.join(node.sb.dir, 'iperf3-bw.pid');
    daemons.push(pidFile);
    spawnSync('ip', ['netns', 'exec', pods[1]!.netns, 'iperf3', '-s', '-D', '-I', pidFile]);
    await eventually(async () => existsSync(pidFile), 5000, 'iperf3 server');
    await eventually(
      async () =>
        (
          await node.sb
            .execInPod(pods[0]!, ['ping', '-c', '1', '-W', '1', ips[1]!])
            .catch(() => null)
        )?.exitCode === 0,
      10_000,
      'a reaches b',
    );
    const shaped = iperf(node, pods[0]!.netns, ips[1]!);
    // b → a (reverse mode): a has no ingress limit, so this is what the path carries unshaped.
    const open = iperf(node, pods[0]!.netns, ips[1]!, ['-R']);
    console.log(
      `iperf3 a→b: set ${mbit(20_000_000)} (htb max-rate), measured ${mbit(shaped)}; b→a unshaped: ${mbit(open)}`,
    );
    expect(shaped).toBeGreaterThan(20_000_000 * 0.7);
    expect(shaped).toBeLessThan(20_000_000 * 1.1);
    expect(open).toBeGreaterThan(shaped * 2);

    // Kube-OVN's pod-update path: the annotation changes on the running pod.
    const t0 = Date.now();
    api.setAnnotations('default', 'bwb', { [ann('ingress_rate')]: '5', [ann('egress_rate')]: '0' });
    await eventually(
      async () => (await portQos(node, repB))?.queue?.otherConfig['max-rate'] === '5000000',
      5000,
      'updated max-rate',
    );
    const appliedMs = Date.now() - t0;
    console.log(`annotation change applied in ${appliedMs} ms`);
    expect((await portQos(node, repB))?.queue?.otherConfig).toEqual({
      'max-rate': '5000000',
      burst: '500000',
    });
    // egress_rate "0": no policing (Kube-OVN writes 0/0).
    expect(await policing(node, repB)).toEqual({ rate: 0, burst: 0 });
    const shaped5 = iperf(node, pods[0]!.netns, ips[1]!);
    console.log(`iperf3 a→b after the change: set ${mbit(5_000_000)}, measured ${mbit(shaped5)}`);
    expect(shaped5).toBeGreaterThan(5_000_000 * 0.7);
    expect(shaped5).toBeLessThan(5_000_000 * 1.1);

    // The API server compacts its history: the watch gets 410 Gone, relists, and goes on.
    api.expireWatches();
    api.setAnnotations('default', 'bwb', { [ann('ingress_rate')]: '8' });
    await eventually(
      async () => (await portQos(node, repB))?.queue?.otherConfig['max-rate'] === '8000000',
      10_000,
      'max-rate after 410',
    );
    expect(agent.log()).toMatch(/pod watch expired \(410 Gone\): relisting/);
    // ingress_rate removed ("0"): the QoS goes, with its rows.
    api.setAnnotations('default', 'bwb', { [ann('ingress_rate')]: '0' });
    await eventually(async () => (await portQos(node, repB)) === null, 5000, 'QoS removed');
    api.setAnnotations('default', 'bwb', { [ann('ingress_rate')]: '20' });
    await eventually(async () => (await portQos(node, repB)) !== null, 5000, 'QoS again');

    // DEL: the rows go with the ports (QoS and Queue are root tables: deleted explicitly).
    for (const i of [0, 1]) {
      const r = await execPlugin(node, { command: 'DEL', ...call(i), config: conf(i) });
      expect(r.code, r.stdout).toBe(0);
    }
    for (const table of ['QoS', 'Queue']) {
      expect(
        await vsctl(node, [
          '--bare',
          '--columns=_uuid',
          'find',
          table,
          'external_ids:pod=default/bwb',
        ]),
        table,
      ).toBe('');
    }
    expect(await vsctl(node, ['list-ports', 'br-int'])).toBe('');
  });

  it('runtimeConfig.bandwidth (bits/s, bits) without Kubernetes: the same rows, Kube-OVN default burst where none is given', async () => {
    const node = await newNode({ nic: { vfsPerPf: 1 } });
    const agent = await startAgent(node, agentConfig(node));
    const vf = (await node.nic.state()).pfs[0]!.vfs[0]!;
    const pod = await node.sb.makePod('rtc');
    const config = {
      cniVersion: '1.0.0',
      name: 'bw',
      type: 'ovs-offload-cni',
      server_socket: agent.socket,
      deviceID: vf.pci,
      runtimeConfig: {
        bandwidth: { ingressRate: 10_000_000, ingressBurst: 1_000_000, egressRate: 5_000_000 },
      },
    };
    const call = {
      containerID: 'ctr-rtc',
      netns: pod.path,
      ifName: 'net1',
      args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'rtc' },
    };
    const r = await execPlugin(node, { command: 'ADD', ...call, config });
    expect(r.code, r.stdout + agent.log()).toBe(0);
    const rep = vf.representor!;
    // egressRate 5000000 bit/s → 5000 kbit/s; no egressBurst → 80% (4000 kbit).
    expect(await policing(node, rep)).toEqual({ rate: 5000, burst: 4000 });
    // ingressRate 10000000 bit/s, ingressBurst 1000000 bit → 125000 bytes.
    expect((await portQos(node, rep))?.queue?.otherConfig).toEqual({
      'max-rate': '10000000',
      burst: '125000',
    });
    expect((await portQos(node, rep))?.externalIds).toMatchObject({
      'iface-id': 'rtc.default',
      pod: 'default/rtc',
    });
    const d = await execPlugin(node, { command: 'DEL', ...call, config });
    expect(d.code, d.stdout).toBe(0);
    for (const table of ['QoS', 'Queue']) {
      expect(await vsctl(node, ['--bare', '--columns=_uuid', 'find', table]), table).toBe('');
    }
  });
});
