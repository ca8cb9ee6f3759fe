import { appendFile, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { OffloadReport, Reason } from '../../src/offload/index.js';
import type { Pod } from '../../src/sandbox/index.js';
import { ExecaRunner, packageRoot } from '../../src/sys/index.js';
import { newNode, type Node } from '../helpers/sandbox.js';

/**
 * Refused flows end to end: the sandbox's real ovs-vswitchd writes its log under the sandbox
 * dir; lines as a NIC-backed ovs-vswitchd prints them are appended to that very file, and the
 * built `ovs-offload offload-check` (live, and on a captured dump) attributes them to the
 * right representor, by the netdev the line names and by the ufid of a live datapath flow.
 */

const BIN = path.join(packageRoot(), 'bin/ovs-offload');

let node: Node;
let reps: [string, string, string];
let pods: Pod[];
let logFile: string;

async function cli(args: string[], env: Record<string, string> = {}) {
  const r = await new ExecaRunner({ PATH: node.nic.path, ...env }).run(
    [BIN, 'offload-check', ...args],
    {
      okExitCodes: [1, 2],
      timeoutMs: 60_000,
    },
  );
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

const LIVE = () => [
  '--db',
  node.ovs.dbTarget,
  '--ovs-target',
  node.ovs.vswitchdCtl,
  '--sysfs-root',
  node.nic.sysfsRoot,
];

async function json(args: string[], env: Record<string, string> = {}): Promise<OffloadReport> {
  const r = await cli([...args, '--json'], env);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(1);
  return JSON.parse(r.stdout) as OffloadReport;
}

const refused = (r: OffloadReport, port: string): Reason[] =>
  r.ports.find((p) => p.port === port)?.reasons.filter((x) => x.code.startsWith('refused-')) ?? [];

/** Datapath flows expire after 10 s idle: traffic right before every check. */
async function traffic(): Promise<void> {
  await node.sb.execInPod(pods[0]!, ['ping', '-c', '2', '-i', '0.2', '-W', '2', '10.56.0.2']);
}

/** A vlog line as ovs-vswitchd writes it, stamped now. */
function vlog(seq: number, module: string, level: string, message: string): string {
  const seqs = String(seq).padStart(5, '0');
  return `${new Date().toISOString()}|${seqs}|${module}|${level}|${message}`;
}

beforeAll(async () => {
  node = await newNode({ nic: { identity: 'mlx5', vfsPerPf: 3 } });
  const { sb, ovs, nic } = node;
  logFile = path.join(ovs.dir, 'ovs-vswitchd.log');
  const pf = (await nic.state()).pfs[0]!;
  reps = pf.vfs.map((v) => v.representor!) as [string, string, string];
  pods = [];
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

describe('offload-check: refused flows from the sandbox ovs-vswitchd log', () => {
  it('the log is the real one: ovs-vswitchd writes it', async () => {
    expect(await readFile(logFile, 'utf8')).toMatch(/\|bridge\|INFO\|/);
  });

  it('--vswitchd-log: a refusal naming a representor lands on that port, quoted, with its fix', async () => {
    const netdevLine = vlog(
      90001,
      'dpif_netlink(handler1)',
      'ERR',
      `failed to offload flow: Operation not supported: ${reps[0]}`,
    );
    const driverLine = vlog(
      90002,
      'tc(handler1)',
      'ERR',
      `Error: mlx5_core: Failed to set registers for ct clear. dev ${reps[1]}`,
    );
    const dropped = vlog(
      90003,
      'dpif_netlink(handler1)',
      'ERR',
      'Dropped 7 log messages in last 10 seconds (most recently, 2 seconds ago) due to excessive rate',
    );
    await appendFile(logFile, `${netdevLine}\n${driverLine}\n${dropped}\n`);
    await traffic();
    const report = await json([...LIVE(), '--vswitchd-log', logFile]);
    const a = refused(report, reps[0]);
    expect(a.map((x) => x.code)).toEqual(['refused-flow']);
    expect(a[0]!.message).toContain(`refused (Operation not supported)`);
    expect(a[0]!.message).toContain(netdevLine);
    expect(a[0]!.evidence).toEqual([netdevLine]);
    expect(a[0]!.fix).toContain(`ethtool -K ${reps[0]} hw-tc-offload on`);
    const b = refused(report, reps[1]);
    expect(b.map((x) => x.code)).toEqual(['refused-ct']);
    expect(b[0]!.evidence).toEqual([driverLine]);
    expect(report.notes).toContain(
      'ovs-vswitchd.log: the rate limiter dropped 7 offload log messages: more flows may have been refused than the log shows',
    );
  });

  it('OVS_LOGDIR (as OVS uses it) finds the same log without --vswitchd-log', async () => {
    await traffic();
    const report = await json(LIVE(), { OVS_LOGDIR: node.ovs.dir });
    expect(refused(report, reps[0]).map((x) => x.code)).toEqual(['refused-flow']);
    expect(refused(report, reps[1]).map((x) => x.code)).toEqual(['refused-ct']);
  });

  it('a line naming only a ufid is attributed through the live dump to its in_port', async () => {
    await traffic();
    const dump = (await node.ovs.appctl(['dpctl/dump-flows', '-m'])).stdout;
    // a flow that comes in on pod b's representor (the ping reply)
    const flow = dump.split('\n').find((l) => l.includes(`in_port(${reps[1]})`));
    expect(flow, dump).toBeDefined();
    const ufid = /^ufid:([0-9a-f-]{36})/.exec(flow!)?.[1];
    expect(ufid, flow).toBeDefined();
    const line = vlog(
      90004,
      'netdev_offload_tc(handler2)',
      'DBG',
      `ufid:${ufid}: offloading attribute pkt_mark isn't supported`,
    );
    // a fresh log with this line only: the match is by ufid, no port name in it
    const only = path.join(node.sb.dir, 'ufid-only.log');
    await writeFile(only, `${line}\n`);
    await traffic();
    const report = await json([...LIVE(), '--vswitchd-log', only]);
    const b = refused(report, reps[1]);
    expect(b.map((x) => x.code)).toEqual(['refused-match']);
    expect(b[0]!.evidence).toEqual([line]);
    expect(refused(report, reps[0])).toEqual([]);

    // offline: the captured dump and the captured log give the same attribution
    const captured = path.join(node.sb.dir, 'dump.txt');
    await writeFile(captured, dump);
    const off = await json(['--dump', captured, '--vswitchd-log', only]);
    expect(refused(off, reps[1]).map((x) => x.code)).toEqual(['refused-match']);
  });

  it('--vswitchd-log of a missing file: exit 2 with one line', async () => {
    const r = await cli([...LIVE(), '--vswitchd-log', path.join(node.sb.dir, 'nope.log')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/nope\.log/);
  });
});
