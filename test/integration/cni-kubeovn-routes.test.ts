import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentConfig, execConflist, startAgent, type TestAgent } from '../helpers/agent.js';
import { FakePodsApi } from '../helpers/fake-pods-api.js';
import { eventually, externalIds, newNode, type Node } from '../helpers/sandbox.js';
import type { Pod } from '../../src/sandbox/index.js';

/**
 * Seed 004 (Kube-OVN on metaScale): the NAD `default/sriov-net1` with provider
 * `sriov-net1.default.ovn` is the pod's DEFAULT network
 * (`v1.multus-cni.io/default-network: default/sriov-net1`), so the runtime asks for `eth0`.
 * Kube-OVN's CNI gives such a pod its default route(s) via the subnet gateway(s)
 * (pkg/daemon/handler.go handleAdd: no `default_route` annotation and ifName "eth0"), after
 * waiting for `<provider>.kubernetes.io/routed=true`. Real OVN (northd + ovn-controller)
 * forwards between the VFs' representors; addresses come from the pod annotations
 * kube-ovn-controller would write, served by a Kubernetes API double.
 */

const P = 'sriov-net1.default.ovn';
const doubles: FakePodsApi[] = [];
afterAll(async () => {
  for (const d of doubles) await d.stop();
});

/** Seed 004's NAD config, with our plugin where Kube-OVN's stands (deviceID as Multus adds it). */
function seedNad(socket: string, deviceID: string, extra: Record<string, unknown> = {}) {
  return {
    cniVersion: '0.3.1',
    name: 'kube-ovn',
    plugins: [
      { type: 'ovs-offload-cni', server_socket: socket, provider: P, deviceID, ...extra },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

/** What kube-ovn-controller writes on a pod of provider P. */
function annotations(a: {
  ip: string;
  cidr: string;
  gw: string;
  mac: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    [`${P}.kubernetes.io/allocated`]: 'true',
    [`${P}.kubernetes.io/ip_address`]: a.ip,
    [`${P}.kubernetes.io/cidr`]: a.cidr,
    [`${P}.kubernetes.io/gateway`]: a.gw,
    [`${P}.kubernetes.io/mac_address`]: a.mac,
    // No logical_switch: it names the Subnet whose spec.mtu the MTU rule reads (another
    // test's concern); routes do not depend on it.
    ...a.extra,
  };
}

async function kubeNode(vfs: number): Promise<{ node: Node; api: FakePodsApi; agent: TestAgent }> {
  const node = await newNode({ ovn: true, nic: { vfsPerPf: vfs } });
  const { rootIp } = await node.sb.connectToRoot();
  const api = new FakePodsApi(rootIp);
  doubles.push(api);
  await api.start();
  const kubeconfig = await api.kubeconfig(node.sb.dir);
  const agent = await startAgent(
    node,
    agentConfig(node, { kubernetes: { kubeconfig, annotationWaitMs: 20_000 } }),
  );
  return { node, api, agent };
}

const args = (pod: string) => ({
  IgnoreUnknown: '1',
  K8S_POD_NAMESPACE: 'default',
  K8S_POD_NAME: pod,
});

async function routes(node: Node, pod: Pod, family: '-4' | '-6'): Promise<string> {
  const r = await node.sb.ip.run({ name: pod.netns }, [family, 'route', 'show', 'dev', 'eth0']);
  return r.stdout;
}

async function ovnInstalled(node: Node, representor: string): Promise<void> {
  await eventually(
    async () =>
      (
        await node.ovs.vsctl(['get', 'Interface', representor, 'external_ids:ovn-installed'])
      ).stdout.trim() === '"true"',
    20_000,
    `ovn-installed on ${representor}`,
  );
}

const ping = (node: Node, pod: Pod, dst: string) =>
  node.sb
    .execInPod(pod, ['ping', '-c', '3', '-i', '0.2', '-W', '2', dst], 20_000)
    // A failed ping keeps what it printed (stdout) and why (the error names stderr).
    .catch((err: unknown) => ({
      stdout: `${(err as { stdout?: string }).stdout ?? ''}${String(err)}`,
    }));

describe('Kube-OVN default network from seed 004 (provider sriov-net1.default.ovn on eth0)', () => {
  // WITHOUT THIS CHANGE THIS TEST FAILS: a default route was added only for provider "ovn",
  // so pod a got no default route (result without routes, `ip route` only 10.16.0.0/16), did
  // not wait for routed=true, and its ping to 10.17.0.5 failed with "connect: Network is
  // unreachable" (as would the Service VIP). Checked by putting the old rule back in
  // resultFromAnnotations (defaultRoute = provider === 'ovn'), rebuilding and running this.
  it('eth0 gets the default route via the subnet gateway: reaches another subnet through an OVN router and a Service VIP through an OVN load balancer', async () => {
    const { node, api, agent } = await kubeNode(2);
    const ovn = node.ovn!;
    const [vfA, vfB] = (await node.nic.state()).pfs[0]!.vfs;
    // Kube-OVN's topology: the cluster router with each subnet's gateway as a router port.
    await ovn.nbctl(['lr-add', 'ovn-cluster']);
    for (const [ls, mac, gw] of [
      ['ovn-default', '0a:00:00:16:00:01', '10.16.0.1/16'],
      ['subnet-b', '0a:00:00:17:00:01', '10.17.0.1/16'],
    ] as const) {
      await ovn.createSwitch(ls);
      await ovn.nbctl(['lrp-add', 'ovn-cluster', `ovn-cluster-${ls}`, mac, gw]);
      await ovn.nbctl([
        'lsp-add',
        ls,
        `${ls}-ovn-cluster`,
        '--',
        'lsp-set-type',
        `${ls}-ovn-cluster`,
        'router',
        '--',
        'lsp-set-addresses',
        `${ls}-ovn-cluster`,
        'router',
        '--',
        'lsp-set-options',
        `${ls}-ovn-cluster`,
        `router-port=ovn-cluster-${ls}`,
      ]);
    }
    const pods = [
      { pod: await node.sb.makePod('a'), vf: vfA!, ls: 'ovn-default' },
      { pod: await node.sb.makePod('b'), vf: vfB!, ls: 'subnet-b' },
    ];
    const net = {
      a: { ip: '10.16.0.5', cidr: '10.16.0.0/16', gw: '10.16.0.1', mac: '0a:00:00:16:00:05' },
      b: { ip: '10.17.0.5', cidr: '10.17.0.0/16', gw: '10.17.0.1', mac: '0a:00:00:17:00:05' },
    };
    for (const { pod, ls } of pods) {
      const n = net[pod.name as 'a' | 'b'];
      await ovn.addPort(ls, `${pod.name}.default.${P}`, n.mac, n.ip);
    }

    // Pod a: the address is there but kube-ovn-controller has not routed the pod yet.
    api.setAnnotations('default', 'a', annotations(net.a));
    let addADone = false;
    const addA = execConflist(node, 'ADD', seedNad(agent.socket, vfA!.pci), {
      containerID: 'ca',
      netns: pods[0]!.pod.path,
      ifName: 'eth0',
      args: args('a'),
    }).finally(() => (addADone = true));
    await eventually(
      async () =>
        api.requests.filter((r) => r.method === 'GET' && r.url.includes('/a')).length >= 3,
      10_000,
      'agent polling pod a',
    );
    // handler.go handleAdd: the default-route interface waits for routed=true.
    expect(addADone).toBe(false);
    api.setAnnotations('default', 'a', { [`${P}.kubernetes.io/routed`]: 'true' });
    const ra = await addA;
    expect(ra.code, ra.stdout + agent.log()).toBe(0);
    expect(ra.out).toMatchObject({
      cniVersion: '0.3.1',
      interfaces: [{ name: 'eth0', mac: net.a.mac }],
      ips: [{ version: '4', address: '10.16.0.5/16', gateway: '10.16.0.1', interface: 0 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.16.0.1' }],
    });

    api.setAnnotations(
      'default',
      'b',
      annotations({ ...net.b, extra: { [`${P}.kubernetes.io/routed`]: 'true' } }),
    );
    const rb = await execConflist(node, 'ADD', seedNad(agent.socket, vfB!.pci), {
      containerID: 'cb',
      netns: pods[1]!.pod.path,
      ifName: 'eth0',
      args: args('b'),
    });
    expect(rb.code, rb.stdout + agent.log()).toBe(0);

    expect(await routes(node, pods[0]!.pod, '-4')).toMatch(/^default via 10\.16\.0\.1 /m);
    expect(await routes(node, pods[1]!.pod, '-4')).toMatch(/^default via 10\.17\.0\.1 /m);
    for (const { vf } of pods) await ovnInstalled(node, vf.representor!);

    // Across the logical router: a (10.16.0.0/16) → b (10.17.0.0/16) by the default route.
    const p = await ping(node, pods[0]!.pod, net.b.ip);
    expect(p.stdout, agent.log().slice(-2000)).toContain('3 received');

    // A ClusterIP Service as Kube-OVN programs it: an OVN load balancer on the pod's switch.
    await ovn.nbctl(['lb-add', 'cluster-tcp-lb', '10.96.0.10:80', `${net.b.ip}:5201`, 'tcp']);
    await ovn.nbctl(['ls-lb-add', 'ovn-default', 'cluster-tcp-lb']);
    const pidfile = path.join(node.sb.dir, 'iperf3-b.pid');
    const logfile = path.join(node.sb.dir, 'iperf3-b.log');
    await node.sb.execInPod(pods[1]!.pod, [
      'iperf3',
      '-s',
      '-1',
      '-D',
      '-B',
      net.b.ip,
      '-p',
      '5201',
      '--pidfile',
      pidfile,
      '--logfile',
      logfile,
    ]);
    try {
      await eventually(async () => existsSync(pidfile), 5000, 'iperf3 server up');
      // ovn-northd and ovn-controller program the VIP asynchronously: retry the connect.
      const client = await eventually(
        async () => {
          const r = await node.sb
            .execInPod(
              pods[0]!.pod,
              ['iperf3', '-c', '10.96.0.10', '-p', '80', '-t', '1', '--connect-timeout', '2000'],
              15_000,
            )
            .catch(() => null);
          return r && /receiver/.test(r.stdout) ? r : null;
        },
        30_000,
        'TCP through the Service VIP',
      );
      expect(client!.stdout).toMatch(/connected to 10\.96\.0\.10 port 80/);
      // The backend saw pod a's own address: DNAT only, as a ClusterIP Service does.
      expect(readFileSync(logfile, 'utf8')).toMatch(/Accepted connection from 10\.16\.0\.5/);
    } finally {
      if (existsSync(pidfile)) {
        const pid = Number(readFileSync(pidfile, 'utf8').trim());
        try {
          if (pid > 0) process.kill(pid, 'SIGTERM');
        } catch {
          // already gone (-1: one client, then exit)
        }
      }
    }

    for (const [i, { pod, vf }] of pods.entries()) {
      const r = await execConflist(node, 'DEL', seedNad(agent.socket, vf.pci), {
        containerID: i === 0 ? 'ca' : 'cb',
        netns: pod.path,
        ifName: 'eth0',
        args: args(pod.name),
      });
      expect(r.code, r.stdout).toBe(0);
    }
  });
});

describe('Kube-OVN routes, default_route and dual stack', () => {
  it('routes annotation and NetConf routes with default_route "false" on eth0; dual-stack pods get both default routes and ping over IPv6', async () => {
    const { node, api, agent } = await kubeNode(3);
    const ovn = node.ovn!;
    const vfs = (await node.nic.state()).pfs[0]!.vfs;
    await ovn.createSwitch('ovn-default');

    // Pod c: eth0, but default_route "false": no gateway default; the NetConf routes, then the
    // routes annotation (handler.go: routes = append(podRequest.Routes, routes...)).
    const c = await node.sb.makePod('c');
    api.setAnnotations(
      'default',
      'c',
      annotations({
        ip: '10.16.0.12',
        cidr: '10.16.0.0/16',
        gw: '10.16.0.1',
        mac: '0a:00:00:16:00:12',
        extra: {
          [`${P}.kubernetes.io/default_route`]: 'false',
          [`${P}.kubernetes.io/routes`]: JSON.stringify([
            { dst: '10.200.0.0/16', gw: '10.16.0.254' },
            { dst: '10.201.0.0/16', gw: '10.16.0.252' },
          ]),
        },
      }),
    );
    await ovn.addPort('ovn-default', `c.default.${P}`, '0a:00:00:16:00:12', '10.16.0.12');
    const rc = await execConflist(
      node,
      'ADD',
      seedNad(agent.socket, vfs[0]!.pci, {
        routes: [
          { dst: '10.201.0.0/16', gw: '10.16.0.253' },
          { dst: '192.168.77.0/24', gw: '10.16.0.253' },
        ],
      }),
      { containerID: 'cc', netns: c.path, ifName: 'eth0', args: args('c') },
    );
    expect(rc.code, rc.stdout + agent.log()).toBe(0);
    // No routed wait (not the default-route interface), no gateway on the address.
    expect(rc.out).toMatchObject({
      ips: [{ version: '4', address: '10.16.0.12/16', interface: 0 }],
      routes: [
        { dst: '10.201.0.0/16', gw: '10.16.0.252' },
        { dst: '192.168.77.0/24', gw: '10.16.0.253' },
        { dst: '10.200.0.0/16', gw: '10.16.0.254' },
      ],
    });
    expect((rc.out!.ips as { gateway?: string }[])[0]!.gateway).toBeUndefined();
    const cRoutes = await routes(node, c, '-4');
    expect(cRoutes).not.toMatch(/^default/m);
    expect(cRoutes).toMatch(/^10\.200\.0\.0\/16 via 10\.16\.0\.254 /m);
    expect(cRoutes).toMatch(/^10\.201\.0\.0\/16 via 10\.16\.0\.252 /m);
    expect(cRoutes).toMatch(/^192\.168\.77\.0\/24 via 10\.16\.0\.253 /m);

    // Pods d and e: dual stack (IPv4 + IPv6), both default routes; d's routes annotation
    // has a default dst that replaces the IPv4 gateway default (RouteReplace).
    const dual = {
      d: ['10.16.0.13', 'fd00:10:16::13', 'd'],
      e: ['10.16.0.14', 'fd00:10:16::14', 'e'],
    };
    for (const [i, name] of (['d', 'e'] as const).entries()) {
      const [v4, v6, tag] = dual[name];
      const mac = `0a:00:00:16:00:1${tag === 'd' ? 3 : 4}`;
      const pod = await node.sb.makePod(name);
      await ovn.addPort('ovn-default', `${name}.default.${P}`, mac, `${v4} ${v6}`);
      api.setAnnotations(
        'default',
        name,
        annotations({
          ip: `${v4},${v6}`,
          cidr: '10.16.0.0/16,fd00:10:16::/112',
          gw: '10.16.0.1,fd00:10:16::1',
          mac,
          extra: {
            [`${P}.kubernetes.io/routed`]: 'true',
            ...(name === 'd'
              ? { [`${P}.kubernetes.io/routes`]: '[{"dst":"0.0.0.0/0","gw":"10.16.0.254"}]' }
              : {}),
          },
        }),
      );
      const r = await execConflist(node, 'ADD', seedNad(agent.socket, vfs[i + 1]!.pci), {
        containerID: `c${name}`,
        netns: pod.path,
        ifName: 'eth0',
        args: args(name),
      });
      expect(r.code, r.stdout + agent.log()).toBe(0);
      const gw4 = name === 'd' ? '10.16.0.254' : '10.16.0.1';
      expect(r.out).toMatchObject({
        ips: [
          { version: '4', address: `${v4}/16`, gateway: '10.16.0.1' },
          { version: '6', address: `${v6}/112`, gateway: 'fd00:10:16::1' },
        ],
        routes: [
          { dst: '0.0.0.0/0', gw: gw4 },
          { dst: '::/0', gw: 'fd00:10:16::1' },
        ],
      });
      expect(await routes(node, pod, '-4')).toMatch(
        new RegExp(`^default via ${gw4.replace(/\./g, '\\.')} `, 'm'),
      );
      expect(await routes(node, pod, '-6')).toMatch(/^default via fd00:10:16::1 /m);
      await ovnInstalled(node, vfs[i + 1]!.representor!);
    }
    const p6 = await ping(node, node.sb.pod('e'), 'fd00:10:16::13');
    expect(p6.stdout, agent.log().slice(-2000)).toContain('3 received');
  });
});

describe('Kube-OVN appendIfName', () => {
  it('with <provider>.<ifName>.kubernetes.io/ip_address the iface-id is <pod>.<ns>.<provider>.<ifName>: OVN binds it and CHECK agrees', async () => {
    const { node, api, agent } = await kubeNode(1);
    const ovn = node.ovn!;
    const vf = (await node.nic.state()).pfs[0]!.vfs[0]!;
    await ovn.createSwitch('ovn-default');
    // pkg/daemon/ovs_linux.go configureNic: ifaceID = PodNameToPortName(...) + "." + ifName.
    const ifaceId = `f.default.${P}.net1`;
    await ovn.addPort('ovn-default', ifaceId, '0a:00:00:16:00:21', '10.16.0.21');
    const pod = await node.sb.makePod('f');
    api.setAnnotations('default', 'f', {
      [`${P}.net1.kubernetes.io/ip_address`]: '10.16.0.21',
      [`${P}.net1.kubernetes.io/cidr`]: '10.16.0.0/16',
      [`${P}.net1.kubernetes.io/gateway`]: '10.16.0.1',
      [`${P}.net1.kubernetes.io/mac_address`]: '0a:00:00:16:00:21',
    });
    const call = { containerID: 'cf', netns: pod.path, ifName: 'net1', args: args('f') };
    // Seed 004's NAD, at a version that has CHECK.
    const nad = { ...seedNad(agent.socket, vf.pci), cniVersion: '1.0.0' };
    // ADD waits for ovn-installed: it succeeds only if OVN bound the port by that iface-id.
    // Without the appendIfName iface-id it fails (checked): code 11, "OVN did not install
    // iface-id f.default.sriov-net1.default.ovn … within 30000 ms".
    const r = await execConflist(node, 'ADD', nad, call);
    expect(r.code, r.stdout + agent.log()).toBe(0);
    expect(r.out).toMatchObject({ ips: [{ address: '10.16.0.21/16' }] });
    expect((await externalIds(node.ovs, 'Interface', vf.representor!))['iface-id']).toBe(ifaceId);
    const check = await execConflist(node, 'CHECK', nad, call, r.out);
    expect(check.code, check.stdout).toBe(0);
    const del = await execConflist(node, 'DEL', nad, call, r.out);
    expect(del.code, del.stdout).toBe(0);
  });
});
