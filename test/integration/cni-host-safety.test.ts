import { chmod, readdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  agentConfig,
  cniPath,
  execPlugin,
  ipamAllocations,
  startAgent,
  type CniOutcome,
  type TestAgent,
} from '../helpers/agent.js';
import { snapshotHost } from '../helpers/host-snapshot.js';
import { eventually, newNode, type Node } from '../helpers/sandbox.js';

/**
 * Host safety, tried as a hostile or careless runtime would: every rejected request leaves
 * the node and every pod exactly as they were (snapshot before == after), and every failed
 * one leaves the VF usable by the next pod.
 */

interface World {
  node: Node;
  agent: TestAgent;
  ipamDir: string;
  pods: string[];
  conf(patch?: Record<string, unknown>): Record<string, unknown>;
  snap(): Promise<Record<string, unknown>>;
  vf(i: number): Promise<string>;
}

async function world(opts: { vfs?: number } = {}): Promise<World> {
  const node = await newNode({ nic: { vfsPerPf: opts.vfs ?? 3 } });
  const agent = await startAgent(node, agentConfig(node));
  const ipamDir = path.join(node.sb.dir, 'ipam');
  const pods: string[] = [];
  const w: World = {
    node,
    agent,
    ipamDir,
    pods,
    conf: (patch = {}) => ({
      cniVersion: '1.0.0',
      name: 'net-a',
      type: 'ovs-offload-cni',
      server_socket: agent.socket,
      ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet: '10.88.0.0/28' }]] },
      ...patch,
    }),
    snap: () => snapshotHost(node, { stateDir: agent.stateDir, ipamDir }, pods),
    vf: async (i) => (await node.nic.state()).pfs[0]!.vfs[i]!.pci,
  };
  return w;
}

async function pod(w: World, name: string) {
  const p = await w.node.sb.makePod(name);
  w.pods.push(p.netns);
  return p;
}

const args = (name: string) => ({
  IgnoreUnknown: '1',
  K8S_POD_NAMESPACE: 'default',
  K8S_POD_NAME: name,
});

function add(
  w: World,
  containerID: string,
  netns: string,
  ifName: string,
  conf: Record<string, unknown>,
  a: Record<string, string> = args(containerID),
) {
  return execPlugin(w.node, { command: 'ADD', containerID, netns, ifName, args: a, config: conf });
}
function del(
  w: World,
  containerID: string,
  netns: string,
  ifName: string,
  conf: Record<string, unknown>,
) {
  return execPlugin(w.node, {
    command: 'DEL',
    containerID,
    netns,
    ifName,
    args: args(containerID),
    config: conf,
  });
}

function expectCode(r: CniOutcome, code: number, msg: RegExp, what: string): void {
  expect(r.code, `${what}: ${r.stdout}${r.stderr}`).toBe(1);
  expect(r.out, what).toMatchObject({ code });
  expect((r.out as { msg: string }).msg, what).toMatch(msg);
}

/** The VF serves a fresh pod and comes home again: nothing was left holding it. */
async function expectVfUsable(w: World, vfPci: string, what: string): Promise<void> {
  const p = await pod(w, `next-${w.pods.length}`);
  const conf = w.conf({ deviceID: vfPci });
  const r = await add(w, `next-${w.pods.length}`, p.path, 'net1', conf);
  expect(r.code, `${what}: next pod's ADD: ${r.stdout}`).toBe(0);
  expect((await del(w, `next-${w.pods.length}`, p.path, 'net1', conf)).code).toBe(0);
}

describe('host safety: rejected requests change nothing', () => {
  it('refuses bad CNI_NETNS and CNI_IFNAME values with code 4, host and pods untouched', async () => {
    const w = await world();
    const victim = await pod(w, 'victim');
    const vf0 = await w.vf(0);
    const vf1 = await w.vf(1);
    // A pod already on a VF, whose interfaces must survive everything below.
    expect((await add(w, 'victim', victim.path, 'net1', w.conf({ deviceID: vf0 }))).code).toBe(0);
    const target = await pod(w, 'target');
    // The target pod has its own eth0.
    await w.node.sb.ip.run({ name: target.netns }, [
      'link',
      'add',
      'eth0',
      'type',
      'veth',
      'peer',
      'name',
      'tpeer',
    ]);
    const notNs = path.join(w.node.sb.dir, 'regular-file');
    await writeFile(notNs, 'not a netns');
    const uplink = w.node.nic.uplink(0);
    const before = await w.snap();
    const conf = w.conf({ deviceID: vf1 });
    const cases: [string, { netns: string; ifName: string }, RegExp][] = [
      [
        "the agent's own netns by name",
        { netns: w.node.sb.hostNetnsPath, ifName: uplink },
        /CNI_NETNS: .* node's own network namespace/,
      ],
      [
        "the agent's own netns as /proc/PID/ns/net",
        { netns: `/proc/${w.agent.proc.pid}/ns/net`, ifName: uplink },
        /node's own network namespace/,
      ],
      [
        '/proc/self/ns/net (the agent itself)',
        { netns: '/proc/self/ns/net', ifName: 'net1' },
        /node's own network namespace/,
      ],
      [
        "the node's initial netns",
        { netns: '/proc/1/ns/net', ifName: 'net1' },
        // Where pid 1 is more privileged than we are (this VM), its ns link cannot be opened.
        /node's own network namespace|cannot be inspected/,
      ],
      [
        'a netns path that does not exist',
        { netns: '/var/run/netns/no-such-pod', ifName: 'net1' },
        /CNI_NETNS: .* does not exist/,
      ],
      ['a regular file', { netns: notNs, ifName: 'net1' }, /CNI_NETNS: .* not a namespace file/],
      [
        'a mount namespace',
        { netns: `/proc/${w.agent.proc.pid}/ns/mnt`, ifName: 'net1' },
        /CNI_NETNS: .* not a network namespace/,
      ],
      [
        'an ifName the pod already has (eth0)',
        { netns: target.path, ifName: 'eth0' },
        /CNI_IFNAME: eth0 already exists/,
      ],
      ['lo', { netns: target.path, ifName: 'lo' }, /CNI_IFNAME: lo already exists/],
      [
        "the ifName of another pod's VF, in that pod",
        { netns: victim.path, ifName: 'net1' },
        /CNI_IFNAME: net1 already exists/,
      ],
      [
        'an ifName the kernel rejects (16 bytes)',
        { netns: target.path, ifName: 'x'.repeat(16) },
        /CNI_IFNAME/,
      ],
    ];
    for (const [what, c, re] of cases) {
      const r = await add(w, 'intruder', c.netns, c.ifName, conf);
      expectCode(r, 4, re, what);
      expect(await w.snap(), what).toEqual(before);
    }
    // A repeated ADD of an attachment that exists is refused (CNI: the runtime DELs first).
    const again = await add(w, 'victim', victim.path, 'net1', w.conf({ deviceID: vf0 }));
    expectCode(again, 4, /CNI_IFNAME: net1/, 'repeated ADD');
    // Another pod asking for the victim's VF: bad config, 7.
    const stolen = await add(w, 'thief', target.path, 'net1', w.conf({ deviceID: vf0 }));
    expectCode(stolen, 7, /VF .* is in use by pod default\/victim/, 'VF in use');
    expect(await w.snap()).toEqual(before);
    expect((await del(w, 'victim', victim.path, 'net1', w.conf({ deviceID: vf0 }))).code).toBe(0);
  });

  it('GC with a malformed attachment list is refused and removes nothing', async () => {
    const w = await world();
    const p = await pod(w, 'keep');
    const conf = w.conf({ cniVersion: '1.1.0', deviceID: await w.vf(0) });
    expect((await add(w, 'keep', p.path, 'net1', conf)).code).toBe(0);
    const before = await w.snap();
    for (const bad of ['c/net1', { keep: 'net1' }, [{ containerID: 'keep' }]]) {
      const r = await execPlugin(w.node, {
        command: 'GC',
        config: { ...conf, 'cni.dev/valid-attachments': bad },
      });
      expectCode(r, 7, /cni\.dev\/valid-attachments/, `GC ${JSON.stringify(bad)}`);
      expect(await w.snap()).toEqual(before);
    }
    const missing = await execPlugin(w.node, { command: 'GC', config: conf });
    expectCode(missing, 7, /lists no cni\.dev\/attachments/, 'GC without a list');
    // Both keys (libcni 1.2.3+) listing it: kept. An empty list: removed.
    const ok = await execPlugin(w.node, {
      command: 'GC',
      config: {
        ...conf,
        'cni.dev/attachments': [{ containerID: 'keep', ifname: 'net1' }],
        'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'net1' }],
      },
    });
    expect(ok.code, ok.stdout).toBe(0);
    expect(await w.snap()).toEqual(before);
    const gc = await execPlugin(w.node, {
      command: 'GC',
      config: { ...conf, 'cni.dev/attachments': null },
    });
    expect(gc.code, gc.stdout).toBe(0);
    expect(await readdir(w.agent.stateDir)).toEqual([]);
  });
});

describe('host safety: no failure strands a VF', () => {
  it('ADDs that can never work fail cleanly, and the VF serves the next pod', async () => {
    const w = await world();
    const vf = await w.vf(0);
    const p = await pod(w, 'p');
    const base = await w.snap();
    const cases: [string, Record<string, unknown>, Record<string, string>, number, RegExp][] = [
      [
        'an IPAM plugin that does not exist',
        w.conf({ deviceID: vf, ipam: { type: 'no-such-ipam' } }),
        args('p'),
        7,
        /no-such-ipam.* not found/,
      ],
      [
        'a host-local config it rejects',
        w.conf({
          deviceID: vf,
          ipam: { type: 'host-local', dataDir: w.ipamDir, ranges: [[{ subnet: 'not-a-subnet' }]] },
        }),
        args('p'),
        0,
        /host-local/,
      ],
      [
        'CNI_ARGS without IgnoreUnknown',
        w.conf({ deviceID: vf }),
        { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'p' },
        0,
        /unknown args|K8S_POD/,
      ],
    ];
    for (const [what, conf, a, code, re] of cases) {
      const r = await add(w, 'p', p.path, 'net1', conf, a);
      expect(r.code, `${what}: ${r.stdout}`).toBe(1);
      if (code) expect(r.out, what).toMatchObject({ code });
      expect((r.out as { msg: string }).msg, what).toMatch(re);
      expect(
        (r.out as { code: number }).code,
        `${what}: never "try again" for what cannot work`,
      ).not.toBe(11);
      // The runtime's DEL after a failed ADD succeeds.
      expect((await del(w, 'p', p.path, 'net1', conf)).code, what).toBe(0);
      expect(await readdir(w.agent.stateDir), what).toEqual([]);
      expect((await w.snap()).nic, what).toEqual(base.nic);
    }
    await expectVfUsable(w, vf, 'after failed ADDs');
  });

  it('DEL after the pod netns is gone succeeds even when the VF netdev is not where the state says', async () => {
    const w = await world();
    const vf = await w.vf(0);
    const p = await pod(w, 'gone');
    const conf = w.conf({ deviceID: vf });
    expect((await add(w, 'gone', p.path, 'net1', conf)).code).toBe(0);
    // The VF leaves the pod for a netns the agent knows nothing of, then the pod goes.
    const elsewhere = await w.node.sb.makePod('elsewhere');
    w.pods.push(elsewhere.netns);
    await w.node.sb.ip.run({ name: p.netns }, ['link', 'set', 'net1', 'netns', elsewhere.netns]);
    await w.node.nic.destroyPodNetns(p);
    w.pods.splice(w.pods.indexOf(p.netns), 1);
    const r = await del(w, 'gone', p.path, 'net1', conf);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await readdir(w.agent.stateDir)).toEqual([]);
    expect(await ipamAllocations(w.ipamDir, 'net-a')).toEqual([]);
    // When the VF reappears on the host it serves the next pod (found by PCI address).
    await w.node.nic.destroyPodNetns(elsewhere);
    w.pods.splice(w.pods.indexOf(elsewhere.netns), 1);
    await eventually(
      async () => (await w.node.nic.state()).pfs[0]!.vfs[0]!.netdev !== null,
      5000,
      'VF home',
    );
    await expectVfUsable(w, vf, 'VF returned later');
  });

  it('undo and DEL prove identity by PCI parent: a pod that renames the VF and fakes its name and MAC loses only the VF', async () => {
    const w = await world();
    const vf = await w.vf(0);
    const p = await pod(w, 'hostile');
    const conf = w.conf({ deviceID: vf });
    const r = await add(w, 'hostile', p.path, 'net1', conf);
    expect(r.code, r.stdout).toBe(0);
    const ns = { name: p.netns };
    const mac = (
      (await w.node.sb.ip.json(ns, ['link', 'show', 'net1'])) as { address: string }[]
    )[0]!.address;
    // The pod renames the VF and creates a veth named net1 with the VF's MAC.
    await w.node.sb.ip.run(ns, ['link', 'set', 'net1', 'down']);
    await w.node.sb.ip.run(ns, ['link', 'set', 'net1', 'name', 'stolen']);
    await w.node.sb.ip.run(ns, [
      'link',
      'add',
      'net1',
      'address',
      mac,
      'type',
      'veth',
      'peer',
      'name',
      'fake-peer',
    ]);
    const fake = (
      (await w.node.sb.ip.json(ns, ['link', 'show', 'net1'])) as { ifindex: number }[]
    )[0]!;
    // CHECK sees the VF is not net1 any more: a mismatch (plugin code 100), not "try again".
    const check = await execPlugin(w.node, {
      command: 'CHECK',
      containerID: 'hostile',
      netns: p.path,
      ifName: 'net1',
      args: args('hostile'),
      config: { ...conf, prevResult: r.out },
    });
    expectCode(check, 100, /VF .* is named stolen in the pod/, 'CHECK');
    expect((await del(w, 'hostile', p.path, 'net1', conf)).code).toBe(0);
    const after = (await w.node.sb.ip.json(ns, ['link', 'show'])) as {
      ifname: string;
      ifindex: number;
      address: string;
    }[];
    expect(after.map((l) => l.ifname).sort()).toEqual(['fake-peer', 'lo', 'net1']);
    expect(after.find((l) => l.ifname === 'net1')).toMatchObject({
      ifindex: fake.ifindex,
      address: mac,
    });
    expect((await w.node.nic.state()).pfs[0]!.vfs[0]!.netdev).not.toBeNull();
    await expectVfUsable(w, vf, 'after the hostile pod');
  });

  it('only transient failures keep state and answer 11: DEL while OVSDB is down, then again once it is back', async () => {
    const w = await world();
    const vf = await w.vf(0);
    const p = await pod(w, 'p');
    const conf = w.conf({ deviceID: vf });
    expect((await add(w, 'p', p.path, 'net1', conf)).code).toBe(0);
    await w.node.ovs.killOvsdb();
    const r = await del(w, 'p', p.path, 'net1', conf);
    expectCode(r, 11, /OVSDB|connect|disconnected/i, 'DEL with OVSDB down');
    expect(await readdir(w.agent.stateDir)).toHaveLength(1);
    await w.node.ovs.startOvsdb();
    await eventually(
      async () => (await del(w, 'p', p.path, 'net1', conf)).code === 0,
      30_000,
      'DEL after OVSDB is back',
    );
    expect(await readdir(w.agent.stateDir)).toEqual([]);
    await expectVfUsable(w, vf, 'after OVSDB came back');
  });

  it('a DEL that arrives while its ADD is queued behind another operation on the VF waits and undoes it all', async () => {
    const w = await world();
    const vf = await w.vf(0);
    // An IPAM plugin whose DEL takes 2 s: the first pod's DEL holds the VF lock that long.
    const dir = (await cniPath(w.node)).split(':')[0]!;
    const mark = path.join(w.node.sb.dir, 'slow-del-started');
    await writeFile(
      path.join(dir, 'slow-ipam'),
      `#!/bin/sh\nif [ "$CNI_COMMAND" = DEL ]; then : > ${mark}; sleep 2; fi\nexec /usr/lib/cni/host-local\n`,
    );
    await chmod(path.join(dir, 'slow-ipam'), 0o755);
    const conf = w.conf({
      deviceID: vf,
      ipam: { type: 'slow-ipam', dataDir: w.ipamDir, ranges: [[{ subnet: '10.88.0.0/28' }]] },
    });
    const first = await pod(w, 'first');
    const second = await pod(w, 'second');
    expect((await add(w, 'first', first.path, 'net1', conf)).code).toBe(0);
    await w.node.nic.destroyPodNetns(first);
    w.pods.splice(w.pods.indexOf(first.netns), 1);
    const delFirst = del(w, 'first', first.path, 'net1', conf);
    await eventually(
      async () => (await readdir(w.node.sb.dir)).includes('slow-del-started'),
      10_000,
      'first DEL inside IPAM',
    );
    const addSecond = add(w, 'second', second.path, 'net1', conf);
    await eventually(
      async () => w.agent.log().includes('ADD waits: another operation holds this VF'),
      30_000,
      'second ADD queued on the VF lock',
    );
    const delSecond = del(w, 'second', second.path, 'net1', conf);
    const [d1, a2, d2] = await Promise.all([delFirst, addSecond, delSecond]);
    expect(d1.code, d1.stdout).toBe(0);
    expect(a2.code, a2.stdout).toBe(0);
    expect(d2.code, d2.stdout).toBe(0);
    // The DEL undid everything the ADD did: VF home, no state, no lease.
    const links = (await w.node.sb.ip.json({ name: second.netns }, ['link', 'show'])) as {
      ifname: string;
    }[];
    expect(links.map((l) => l.ifname)).toEqual(['lo']);
    expect(await readdir(w.agent.stateDir)).toEqual([]);
    expect(await ipamAllocations(w.ipamDir, 'net-a')).toEqual([]);
    expect((await w.node.nic.state()).pfs[0]!.vfs[0]!.netdev).not.toBeNull();
  });
});
