import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentConfig, execPlugin, startAgent } from '../helpers/agent.js';
import { FakePodsApi } from '../helpers/fake-pods-api.js';
import { eventually, newNode } from '../helpers/sandbox.js';

const doubles: FakePodsApi[] = [];
afterAll(async () => {
  for (const d of doubles) await d.stop();
});

const args = (pod: string) => ({
  IgnoreUnknown: '1',
  K8S_POD_NAMESPACE: 'default',
  K8S_POD_NAME: pod,
});

describe('agent start-up', () => {
  it('reconciles nics[] (numVfs + switchdev on a legacy PF with no VFs), representors appear', async () => {
    const node = await newNode({ nic: { identity: 'mlx5', vfsPerPf: 0, eswitchMode: 'legacy' } });
    const agent = await startAgent(
      node,
      agentConfig(node, { nics: [{ pci: '0000:03:00.0', numVfs: 3, eswitchMode: 'switchdev' }] }),
    );
    const st = (await node.nic.state()).pfs[0]!;
    expect(st.mode).toBe('switchdev');
    expect(st.vfs.map((v) => v.representor)).toEqual(
      [0, 1, 2].map((i) => `${node.nic.uplink(0)}_${i}`),
    );
    expect(agent.log()).toMatch(/"msg":"NIC plan"/);
    await agent.stop();
    // A restart finds the PF as configured and changes nothing.
    await node.nic.clearCalls();
    const again = await startAgent(
      node,
      agentConfig(node, { nics: [{ pci: '0000:03:00.0', numVfs: 3, eswitchMode: 'switchdev' }] }),
    );
    // Only the idempotent hw-tc-offload step is re-applied: no VF or eswitch change.
    expect(again.log()).toMatch(
      /"plan":\["ethtool -K <uplink and each representor> hw-tc-offload on[^"]*"\],"msg":"NIC plan"/,
    );
    expect(
      (await node.nic.calls()).filter(
        (c) => c.tool === 'sysfs' || (c.tool === 'devlink' && c.argv.includes('set')),
      ),
    ).toEqual([]);
  });

  it('waits for OVSDB when it is down at start and becomes ready when it comes up', async () => {
    const node = await newNode({ nic: { vfsPerPf: 1 } });
    await node.ovs.stopVswitchd();
    await node.ovs.killOvsdb();
    const agent = await startAgent(node, agentConfig(node), { waitReady: false });
    await eventually(async () => /waiting for OVSDB/.test(agent.log()), 20_000, 'agent waiting');
    await node.ovs.startOvsdb();
    await node.ovs.startVswitchd();
    await agent.proc.waitReady(30_000);
    expect(agent.log()).toMatch(/"msg":"agent ready"/);
  });

  it('on SIGTERM during 10 in-flight ADDs finishes or undoes them all, exits 0, leaks nothing', async () => {
    const node = await newNode({ nic: { vfsPerPf: 10, totalVfs: 16 } });
    const agent = await startAgent(node, agentConfig(node));
    const vfs = (await node.nic.state()).pfs[0]!.vfs;
    const pods = await Promise.all(vfs.map((_, i) => node.sb.makePod(`t${i}`)));
    const conf = (pci: string) => ({
      cniVersion: '1.0.0',
      name: 'term',
      type: 'ovs-offload-cni',
      server_socket: agent.socket,
      deviceID: pci,
    });
    const adds = vfs.map((v, i) =>
      execPlugin(node, {
        command: 'ADD',
        containerID: `c${i}`,
        netns: pods[i]!.path,
        ifName: 'net1',
        args: args(`t${i}`),
        config: conf(v.pci),
      }),
    );
    await eventually(
      async () => /"op":"add"/.test(agent.log()) || (await readdir(agent.stateDir)).length > 0,
      10_000,
      'ADDs under way',
    );
    const code = await agent.stop('SIGTERM');
    expect(code).toBe(0);
    const results = await Promise.all(adds);
    const ok = results.filter((r) => r.code === 0).length;
    // Every ADD either completed (state file, port) or was refused cleanly (try again later).
    for (const r of results) if (r.code !== 0) expect(r.out).toMatchObject({ code: 11 });
    expect((await readdir(agent.stateDir)).length).toBe(ok);
    expect(
      (await node.ovs.vsctl(['list-ports', 'br-int'])).stdout.split('\n').filter(Boolean),
    ).toHaveLength(ok);
    const after = (await node.nic.state()).pfs[0]!.vfs;
    expect(after.filter((v) => v.netdev === null)).toHaveLength(ok);
    expect(agent.log()).toMatch(/"msg":"agent stopped"/);
  });
});

describe('agent start-up failures', () => {
  it('at start, an undo that can never succeed is released; one that fails transiently is retried with backoff and reported', async () => {
    const node = await newNode({ nic: { vfsPerPf: 2 } });
    const cfg = agentConfig(node);
    const vfs = (await node.nic.state()).pfs[0]!.vfs;
    await mkdir(cfg.stateDir, { recursive: true });
    // An IPAM plugin that says "try again later" (11) until a file appears.
    const bin = path.join(node.sb.dir, 'ipam-bin');
    const ready = path.join(node.sb.dir, 'ipam-ready');
    await mkdir(bin, { recursive: true });
    await writeFile(
      path.join(bin, 'flaky-ipam'),
      [
        '#!/bin/sh',
        `[ "$CNI_COMMAND" = VERSION ] && exec echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}'`,
        `[ -e ${ready} ] && exit 0`,
        `echo '{"cniVersion":"1.0.0","code":11,"msg":"store locked"}'`,
        'exit 1',
        '',
      ].join('\n'),
    );
    await chmod(path.join(bin, 'flaky-ipam'), 0o755);
    // Two ADDs interrupted before completion: one whose IPAM plugin has since disappeared
    // (nothing to release: done), one whose plugin answers 11 for now.
    const ghost = (id: string, i: number, ipamType: string) => ({
      version: 1,
      containerID: id,
      ifName: 'net1',
      network: 'n',
      netns: '/var/run/netns/gone',
      mode: 'offload',
      pod: { name: id, namespace: 'default' },
      vf: {
        pci: vfs[i]!.pci,
        pfPci: '0000:03:00.0',
        pfNetdev: node.nic.uplink(0),
        vfIndex: i,
        originalName: vfs[i]!.netdev,
        originalMac: null,
        originalMtu: null,
        driver: 'mlx5_core',
      },
      representor: vfs[i]!.representor,
      bridge: 'br-int',
      ifaceId: `${id}.default`,
      knobsBefore: null,
      ipam: {
        config: { cniVersion: '1.0.0', name: 'n', ipam: { type: ipamType } },
        cniArgs: '',
        path: bin,
      },
      addCompleted: false,
      createdAt: new Date().toISOString(),
      result: null,
    });
    await writeFile(
      path.join(cfg.stateDir, 'c-gone-net1.json'),
      JSON.stringify(ghost('c-gone', 0, 'no-such-ipam')),
    );
    await writeFile(
      path.join(cfg.stateDir, 'c-flaky-net1.json'),
      JSON.stringify(ghost('c-flaky', 1, 'flaky-ipam')),
    );
    // A temporary file a crash left mid-rename.
    await writeFile(path.join(cfg.stateDir, 'c-x-net1.json.tmp-1-abcdef'), '{');
    const agent = await startAgent(node, cfg);
    expect(await readdir(cfg.stateDir)).toEqual(['c-flaky-net1.json']);
    expect(agent.log()).toMatch(/"msg":"undo failed; retrying later"/);
    const st = spawnSync(
      path.resolve('bin/ovs-offload'),
      ['status', '--json', '--socket', agent.socket],
      { encoding: 'utf8' },
    );
    const doc = JSON.parse(st.stdout) as {
      attachments: { containerID: string; pendingUndo: { attempts: number } | null }[];
    };
    expect(
      doc.attachments.find((a) => a.containerID === 'c-flaky')?.pendingUndo?.attempts,
    ).toBeGreaterThanOrEqual(1);
    await writeFile(ready, '');
    await eventually(
      async () => (await readdir(cfg.stateDir)).length === 0,
      15_000,
      'retried undo',
    );
  });

  it('a start-up that fails after the CNI socket opened closes everything and exits 2', async () => {
    const node = await newNode({ nic: { vfsPerPf: 1 } });
    // 192.0.2.0/24 (TEST-NET-1) is on no interface: the metrics listener cannot bind.
    const agent = await startAgent(
      node,
      agentConfig(node, { metrics: { listen: '192.0.2.1:9476' } }),
      { waitReady: false },
    );
    const code = await Promise.race([
      agent.proc.proc.exited,
      new Promise((r) => setTimeout(() => r('still running'), 30_000)),
    ]);
    expect(code, agent.log()).toBe(2);
    expect(agent.log()).toMatch(/EADDRNOTAVAIL/);
    await expect(readdir(path.dirname(agent.socket))).resolves.not.toContain(
      path.basename(agent.socket),
    );
  });

  it('finishes a bring-up interrupted between unbinding and rebinding the VFs', async () => {
    const node = await newNode({ nic: { identity: 'mlx5', vfsPerPf: 2 } });
    for (const vf of (await node.nic.state()).pfs[0]!.vfs) {
      await writeFile(
        path.join(node.nic.sysfsRoot, 'sys/bus/pci/drivers/mlx5_core/unbind'),
        vf.pci,
      );
      await eventually(
        async () =>
          (await node.nic.state()).pfs[0]!.vfs.find((v) => v.pci === vf.pci)!.driver === null,
      );
    }
    const agent = await startAgent(
      node,
      agentConfig(node, { nics: [{ pci: '0000:03:00.0', numVfs: 2, eswitchMode: 'switchdev' }] }),
    );
    expect(agent.log()).toMatch(/probe drivers for VFs left without one/);
    const vfs = (await node.nic.state()).pfs[0]!.vfs;
    expect(vfs.map((v) => v.driver)).toEqual(['mlx5_core', 'mlx5_core']);
    expect(vfs.every((v) => v.netdev !== null)).toBe(true);
  });
});

describe('Kube-OVN IP source', () => {
  it('waits for the pod annotation, uses its address and MAC, and writes vf_representor back', async () => {
    const node = await newNode({ ovn: true, nic: { vfsPerPf: 1 } });
    const { rootIp } = await node.sb.connectToRoot();
    const api = new FakePodsApi(rootIp);
    doubles.push(api);
    await api.start();
    const kubeconfig = await api.kubeconfig(node.sb.dir);
    const agent = await startAgent(
      node,
      agentConfig(node, { kubernetes: { kubeconfig, annotationWaitMs: 20_000 } }),
    );
    const provider = 'sriov-net1.default.ovn';
    const vf = (await node.nic.state()).pfs[0]!.vfs[0]!;
    const pod = await node.sb.makePod('kovn');
    api.setAnnotations('default', 'kovn', {});
    await node.ovn!.createSwitch('sriov-net1');
    await node.ovn!.addPort(
      'sriov-net1',
      `kovn.default.${provider}`,
      '0a:00:00:00:00:42',
      '10.93.0.42',
    );
    const add = execPlugin(node, {
      command: 'ADD',
      containerID: 'c-kovn',
      netns: pod.path,
      ifName: 'net1',
      args: args('kovn'),
      config: {
        cniVersion: '1.0.0',
        name: 'sriov-net1',
        type: 'ovs-offload-cni',
        server_socket: agent.socket,
        provider,
        deviceID: vf.pci,
      },
    });
    // kube-ovn-controller annotates a moment later
    await eventually(
      async () => api.requests.some((r) => r.method === 'GET'),
      10_000,
      'agent reading the pod',
    );
    api.setAnnotations('default', 'kovn', {
      [`${provider}.kubernetes.io/ip_address`]: '10.93.0.42',
      [`${provider}.kubernetes.io/mac_address`]: '0A:00:00:00:00:42',
      [`${provider}.kubernetes.io/cidr`]: '10.93.0.0/24',
      [`${provider}.kubernetes.io/gateway`]: '10.93.0.1',
    });
    const r = await add;
    expect(r.code, r.stdout + agent.log()).toBe(0);
    expect(r.out).toMatchObject({
      interfaces: [{ name: 'net1', mac: '0a:00:00:00:00:42' }],
      // net1 is not the default-route interface: no gateway and no routes, as kube-ovn-cni
      // answers (pkg/daemon/handler.go handleAdd sets the gateway only with isDefaultRoute).
      ips: [{ address: '10.93.0.42/24', interface: 0 }],
    });
    expect((r.out!.ips as { gateway?: string }[])[0]!.gateway).toBeUndefined();
    expect(r.out!.routes).toBeUndefined();
    const addr = await node.sb.ip.run({ name: pod.netns }, ['-o', 'addr', 'show', 'dev', 'net1']);
    expect(addr.stdout).toContain('10.93.0.42/24');
    expect(api.pods.get('default/kovn')!.annotations).toMatchObject({
      [`${provider}.kubernetes.io/vf_representor`]: vf.representor,
      [`${provider}.kubernetes.io/pod_nic_type`]: 'sriov',
    });
  });
});

describe('observability', () => {
  it('exposes CNI, attachment, pool and eswitch series on /metrics and both attachments on /status', async () => {
    const node = await newNode({ nic: { vfsPerPf: 2 } });
    const { sandboxIp } = await node.sb.connectToRoot();
    const dpDir = path.join(node.sb.dir, 'dp');
    await mkdir(path.join(dpDir, 'kubelet', 'device-plugins'), { recursive: true });
    const agent = await startAgent(
      node,
      agentConfig(node, {
        metrics: { listen: `${sandboxIp}:19476`, flowSampleIntervalMs: 200 },
        devicePlugin: {
          resourceList: [
            {
              resourceName: 'mlx_offload',
              selectors: { vendors: ['15b3'], devices: ['1018'] },
              requireSwitchdev: true,
            },
          ],
          kubeletDir: path.join(dpDir, 'kubelet'),
          devinfoDir: path.join(dpDir, 'devinfo'),
        },
      }),
    );
    const vfs = (await node.nic.state()).pfs[0]!.vfs;
    for (const [i, vf] of vfs.entries()) {
      const pod = await node.sb.makePod(`m${i}`);
      const r = await execPlugin(node, {
        command: 'ADD',
        containerID: `cm${i}`,
        netns: pod.path,
        ifName: 'net1',
        args: args(`m${i}`),
        config: {
          cniVersion: '1.0.0',
          name: 'm',
          type: 'ovs-offload-cni',
          server_socket: agent.socket,
          deviceID: vf.pci,
        },
      });
      expect(r.code, r.stdout).toBe(0);
    }
    const base = `http://${sandboxIp}:19476`;
    const text = await eventually(
      async () => {
        const t = await (await fetch(`${base}/metrics`)).text();
        return /ovs_offload_datapath_flows\{port="[^"]+",kind="software"\}/.test(t) ? t : null;
      },
      10_000,
      'flow sample',
    );
    expect(text).toMatch(/ovs_offload_cni_requests_total\{op="add",result="ok"\} 2/);
    expect(text).toMatch(
      /ovs_offload_cni_request_duration_seconds_count\{op="add",result="ok"\} 2/,
    );
    expect(text).toMatch(/ovs_offload_attachments\{mode="offload"\} 2/);
    expect(text).toMatch(
      /ovs_offload_pool_vfs\{resource="intel.com\/mlx_offload",state="total"\} 2/,
    );
    expect(text).toMatch(/ovs_offload_eswitch_mode\{pf="0000:03:00.0",mode="switchdev"\} 1/);
    // Refusals are counted from the offload verdict (no hw-offload here: none yet).
    expect(text).toMatch(/# TYPE ovs_offload_flow_refusals_total counter/);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/livez`)).status).toBe(200);
    const status = (await (await fetch(`${base}/status`)).json()) as {
      attachments: {
        pod: string;
        representor: string;
        offload: { reasons: string[]; evidence: { code: string; text: string }[] } | null;
      }[];
    };
    expect(status.attachments.map((a) => a.pod).sort()).toEqual(['default/m0', 'default/m1']);
    for (const a of status.attachments) {
      if (a.offload) expect(Array.isArray(a.offload.evidence)).toBe(true);
    }
    expect(status.attachments.map((a) => a.representor).sort()).toEqual(
      vfs.map((v) => v.representor).sort(),
    );
  });
});
