import * as path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { OffloadReport } from '../../src/offload/index.js';
import type { Pod } from '../../src/sandbox/index.js';
import { ExecaRunner, packageRoot } from '../../src/sys/index.js';
import { newNode, type Node } from '../helpers/sandbox.js';

/**
 * `ovs-offload offload-check` live, the built executable against a sandbox node: a real
 * ovs-vswitchd (userspace datapath, so every flow is `dp:ovs`), OVSDB external_ids for the
 * pod mapping, and the emulated switchdev NIC for eswitch modes and representors.
 */

const BIN = path.join(packageRoot(), 'bin/ovs-offload');

let node: Node;
let reps: [string, string, string];
let pods: Pod[];

async function cli(n: Node, args: string[]) {
  const r = await new ExecaRunner({ PATH: n.nic.path }).run(
    [
      BIN,
      'offload-check',
      '--db',
      n.ovs.dbTarget,
      '--ovs-target',
      n.ovs.vswitchdCtl,
      '--sysfs-root',
      n.nic.sysfsRoot,
      ...args,
    ],
    { okExitCodes: [1, 2], timeoutMs: 60_000 },
  );
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

async function json(args: string[]): Promise<{ code: number; report: OffloadReport }> {
  const r = await cli(node, [...args, '--json']);
  expect(r.stderr).toBe('');
  return { code: r.code, report: JSON.parse(r.stdout) as OffloadReport };
}

/** Datapath flows expire after 10 s idle: traffic right before every check. */
async function traffic(): Promise<void> {
  await node.sb.execInPod(pods[0]!, ['ping', '-c', '2', '-i', '0.2', '-W', '2', '10.56.0.2']);
}

const codes = (r: OffloadReport, port: string) =>
  r.ports.find((p) => p.port === port)?.reasons.map((x) => x.code);

beforeAll(async () => {
  node = await newNode({ nic: { identity: 'mlx5', vfsPerPf: 3 } });
  const { sb, ovs, nic } = node;
  const pf = (await nic.state()).pfs[0]!;
  reps = pf.vfs.map((v) => v.representor!) as [string, string, string];
  pods = [];
  // pods a and b on VFs 0 and 1, their representors on br-int as the agent puts them;
  // VF 2's representor stays off the bridge
  for (const [i, name] of ['a', 'b'].entries()) {
    const vf = pf.vfs[i]!;
    const pod = await sb.makePod(name);
    pods.push(pod);
    await ovs.vsctl([
      'add-port',
      'br-int',
      vf.representor!,
      '--',
      'set',
      'Interface',
      vf.representor!,
      `external_ids:pod_name=${name}`,
      'external_ids:pod_namespace=ns1',
      `external_ids:iface-id=${name}.ns1`,
    ]);
    await sb.ip.run({ name: sb.hostNetns }, ['link', 'set', vf.representor!, 'up']);
    await sb.ip.run({ name: sb.hostNetns }, ['link', 'set', vf.netdev!, 'netns', pod.netns]);
    await sb.ip.batch({ name: pod.netns }, [
      ['link', 'set', vf.netdev!, 'name', 'net1'],
      ['addr', 'add', `10.56.0.${i + 1}/24`, 'dev', 'net1'],
      ['link', 'set', 'net1', 'up'],
    ]);
  }
});

describe('ovs-offload offload-check (live, sandbox OVS)', () => {
  it('pods on the userspace datapath: software, with the reasons it can tell; exit 1', async () => {
    await traffic();
    const { code, report } = await json([]);
    expect(code).toBe(1);
    expect(report.source).toBe('live');
    expect(report.verdict).toBe('not-offloaded');
    // the default set: the pod ports (the bridge port and VF 2's representor are not in it)
    expect(report.ports.map((p) => [p.port, p.pod, p.bridge, p.verdict])).toEqual(
      [
        [reps[0], 'ns1/a', 'br-int', 'software'],
        [reps[1], 'ns1/b', 'br-int', 'software'],
      ].sort((x, y) => x[0]!.localeCompare(y[0]!)),
    );
    const pf = (await node.nic.state()).pfs[0]!;
    for (const p of report.ports) {
      expect(p.pf).toBe(pf.pci);
      expect(p.flows.total).toBeGreaterThanOrEqual(2);
      expect(p.flows.offloaded.flows).toBe(0);
      expect(p.flows.software.flows).toBe(p.flows.total);
      expect(p.flows.softwareDp.ovs).toBe(p.flows.total);
      expect(Number(p.flows.software.packets)).toBeGreaterThanOrEqual(2);
      expect(codes(report, p.port)).toEqual([
        'userspace-datapath',
        'hw-offload-off',
        'software-datapath',
      ]);
    }
    expect(report.facts.ovs).toEqual({ hwOffload: null, tcPolicy: null });
    expect(report.facts.nic!.pfs.map((p) => [p.pci, p.eswitchMode, p.representors])).toEqual([
      [pf.pci, 'switchdev', reps],
    ]);
    expect(report.notes).toEqual([]);
  });

  it('datapath numbers come from dpif/show: they are not the OpenFlow ofport numbers', async () => {
    await traffic();
    const { report } = await json([]);
    const show = (await node.ovs.appctl(['dpctl/show'])).stdout;
    for (const p of report.ports) {
      const m = new RegExp(`port (\\d+): ${p.port}\\b`).exec(show);
      expect(m, p.port).not.toBeNull();
      expect(p.odp).toBe(Number(m![1]));
      const ofport = (await node.ovs.vsctl(['get', 'Interface', p.port, 'ofport'])).stdout.trim();
      expect(p.ofport).toBe(Number(ofport));
      // br-int holds datapath port 1, so every port's two numbers differ here
      expect(p.odp).not.toBe(p.ofport);
    }
  });

  it('--pod NS/NAME maps through external_ids; the human output has table, reasons, verdict', async () => {
    await traffic();
    const r = await cli(node, ['--pod', 'ns1/b']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(
      'node: hw-offload not set, PF ' +
        (await node.nic.state()).pfs[0]!.pci +
        ` switchdev (uplink ${node.nic.uplink(0)})`,
    );
    expect(lines[2]).toMatch(/^PORT +POD +VERDICT +FLOWS +HW +PART +SW +\? +PACKETS +BYTES$/);
    expect(lines[3]).toMatch(
      new RegExp(`^${reps[1]} +ns1/b +software +\\d+ +0 +0 +\\d+ +0 +\\d+ +\\d+$`),
    );
    expect(lines.filter((l) => l.startsWith(reps[0]))).toEqual([]);
    expect(r.stdout).toContain(`${reps[1]} (ns1/b): software\n  - userspace-datapath:`);
    expect(r.stdout).toContain(
      '  - hw-offload-off: Open_vSwitch other_config:hw-offload is not set',
    );
    expect(r.stdout).toContain(
      '    fix: ovs-vsctl set Open_vSwitch . other_config:hw-offload=true',
    );
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(
      'verdict: not offloaded (0 of 1 port offloaded)',
    );
  });

  it('hw-offload=true: the hw-offload reason goes, the dp:ovs reason says the NIC refused', async () => {
    await node.ovs.vsctl(['set', 'Open_vSwitch', '.', 'other_config:hw-offload=true']);
    try {
      await traffic();
      const { code, report } = await json(['--pod', 'ns1/a']);
      expect(code).toBe(1);
      expect(report.facts.ovs).toEqual({ hwOffload: true, tcPolicy: null });
      expect(codes(report, reps[0])).toEqual(['userspace-datapath', 'software-datapath']);
      const sw = report.ports[0]!.reasons.find((x) => x.code === 'software-datapath')!;
      expect(sw.message).toMatch(/hw-offload is on, so the NIC or driver refused/);
      await node.ovs.vsctl(['set', 'Open_vSwitch', '.', 'other_config:hw-offload=false']);
      await traffic();
      const off = await json(['--pod', 'ns1/a']);
      expect(
        off.report.ports[0]!.reasons.find((x) => x.code === 'hw-offload-off')!.message,
      ).toMatch(/other_config:hw-offload is false/);
    } finally {
      await node.ovs.vsctl(['remove', 'Open_vSwitch', '.', 'other_config', 'hw-offload']);
    }
  });

  it('--explain --pod: config → flows → ct leg → TC → log → verdict and fixes for one pod', async () => {
    await node.ovs.vsctl(['set', 'Open_vSwitch', '.', 'other_config:hw-offload=true']);
    try {
      await traffic();
      const r = await cli(node, ['--pod', 'ns1/a', '--explain']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('');
      const pf = (await node.nic.state()).pfs[0]!;
      const lines = r.stdout.split('\n');
      expect(lines.slice(0, 7)).toEqual([
        'explain: pod ns1/a (live)',
        '',
        'config',
        '  hw-offload     true',
        '  tc-policy      not set (none: TC tries hardware, falls back to software)',
        `  eswitch        PF ${pf.pci} switchdev, uplink ${node.nic.uplink(0)}`,
        `  hw-tc-offload  not read (check: ethtool -k ${reps[0]} | grep hw-tc-offload)`,
      ]);
      expect(r.stdout).toContain(`\nport ${reps[0]} (pod ns1/a, bridge br-int)\n`);
      expect(r.stdout).toMatch(/\n {4}software +[1-9]\d* \(\d+ packets\): dp:ovs [1-9]/);
      expect(r.stdout).toContain('\n  ct leg         none (no ct/recirc flow)\n');
      expect(r.stdout).toContain('\n  verdict        software\n');
      expect(r.stdout).toMatch(
        / {4}- software-datapath: .*hw-offload is on, so the NIC or driver refused/,
      );
      expect(r.stdout).toMatch(/ {6}fix: /);
      expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(
        'verdict: not offloaded (0 of 1 port offloaded)',
      );
    } finally {
      await node.ovs.vsctl(['remove', 'Open_vSwitch', '.', 'other_config', 'hw-offload']);
    }
  });

  it('--port on a representor that is on no bridge: not-on-bridge, no flows; exit 1', async () => {
    const { code, report } = await json(['--port', reps[2]]);
    expect(code).toBe(1);
    expect(report.ports).toHaveLength(1);
    expect(report.ports[0]).toMatchObject({
      port: reps[2],
      bridge: null,
      pod: null,
      verdict: 'no-flows',
    });
    expect(codes(report, reps[2])).toEqual(['not-on-bridge', 'hw-offload-off', 'no-flows']);
  });

  it('--port on a port nobody knows, --pod of no pod: exit 2 with one line', async () => {
    for (const args of [
      ['--port', 'nosuchport0'],
      ['--pod', 'ns1/nobody'],
    ]) {
      const r = await cli(node, args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^ovs-offload offload-check: (port nosuchport0|pod ns1\/nobody): /);
    }
  });

  it('an unreachable OVSDB or ovs-vswitchd: exit 2 with the reason', async () => {
    const ctl = path.join(node.sb.dir, 'no-such.ctl');
    const r = await new ExecaRunner({ PATH: node.nic.path }).run(
      [
        BIN,
        'offload-check',
        '--db',
        node.ovs.dbTarget,
        '--ovs-target',
        ctl,
        '--sysfs-root',
        node.nic.sysfsRoot,
      ],
      { okExitCodes: [1, 2] },
    );
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(
      /^ovs-offload offload-check: dump datapath flows: run ovs-appctl -t \S+no-such.ctl dpctl\/dump-flows -m type=all: exit 1/,
    );
    const db = await new ExecaRunner({ PATH: node.nic.path }).run(
      [BIN, 'offload-check', '--db', path.join(node.sb.dir, 'no-such.sock')],
      { okExitCodes: [1, 2], timeoutMs: 30_000 },
    );
    expect(db.exitCode).toBe(2);
    expect(db.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('--dump of the same node without -m, mapped by its dpif/show: not proven, names mapped', async () => {
    await traffic();
    const dump = (await node.ovs.appctl(['dpctl/dump-flows'])).stdout;
    const dpif = (await node.ovs.appctl(['dpif/show'])).stdout;
    const dumpFile = path.join(node.sb.dir, 'dump.txt');
    const portsFile = path.join(node.sb.dir, 'dpif.txt');
    await writeFile(dumpFile, dump);
    await writeFile(portsFile, dpif);
    expect(dump).toMatch(/in_port\(\d+\)/);
    const r = await new ExecaRunner().run(
      [BIN, 'offload-check', '--dump', dumpFile, '--ports', portsFile, '--port', reps[0], '--json'],
      { okExitCodes: [1, 2] },
    );
    expect(r.exitCode).toBe(1);
    const report = JSON.parse(r.stdout) as OffloadReport;
    expect(report.ports.map((p) => [p.port, p.bridge, p.verdict])).toEqual([
      [reps[0], 'br-int', 'unknown'],
    ]);
    expect(report.ports[0]!.flows.unknown.flows).toBeGreaterThanOrEqual(2);
    expect(report.notes).toEqual([]);
  });
});

describe('ovs-offload offload-check (live, PF in legacy mode)', () => {
  it('a pod port when no PF is in switchdev: eswitch-legacy names the PF', async () => {
    const legacy = await newNode({ nic: { identity: 'mlx5', vfsPerPf: 1, eswitchMode: 'legacy' } });
    const pf = (await legacy.nic.state()).pfs[0]!;
    const vf = pf.vfs[0]!;
    expect(vf.representor).toBeNull();
    // without representors the VF itself is all there is to put on OVS
    await legacy.ovs.vsctl([
      'add-port',
      'br-int',
      vf.netdev!,
      '--',
      'set',
      'Interface',
      vf.netdev!,
      'external_ids:pod_name=l',
      'external_ids:pod_namespace=ns2',
    ]);
    const r = await cli(legacy, ['--pod', 'ns2/l', '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as OffloadReport;
    expect(report.facts.nic!.pfs.map((p) => [p.pci, p.eswitchMode])).toEqual([[pf.pci, 'legacy']]);
    expect(codes(report, vf.netdev!)).toEqual([
      'userspace-datapath',
      'eswitch-legacy',
      'hw-offload-off',
      'no-flows',
    ]);
    const reason = report.ports[0]!.reasons.find((x) => x.code === 'eswitch-legacy')!;
    expect(reason.message).toContain(`(${pf.pci} legacy)`);
    expect(reason.fix).toMatch(/mode switchdev/);
  });
});
