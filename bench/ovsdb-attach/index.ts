import { OvsdbClient } from '../../src/ovs/ovsdb/index.js';
import { Vswitch } from '../../src/ovs/vswitch.js';
import { Sandbox, startOvs, type OvsInstance } from '../../src/sandbox/index.js';
import { round, timeMs } from '../lib/stats.js';
import type { Bench } from '../lib/types.js';

/**
 * Attach then detach N ports on a fresh sandbox OVS, three ways, each counted done only when
 * ovs-vswitchd has acted (every port has its ofport; on detach, ovs-vswitchd has applied the
 * removal: cur_cfg caught up), as ovs-vsctl waits for ovs-vswitchd by default:
 *  - ours: one transaction per port, all issued concurrently on one connection, ofports
 *    awaited through the Vswitch's single monitor;
 *  - `ovs-vsctl --may-exist add-port` (then `--if-exists del-port`) once per port;
 *  - one ovs-vsctl call carrying all N commands.
 *
 * The main rows attach veth ends that already exist, as a representor does (a pod's port is
 * an existing netdev: ovs-vswitchd opens it, and on removal closes it). The secondary rows
 * use internal ports, which ovs-vswitchd must create and destroy: on the userspace datapath
 * every removed internal port is a tap device the kernel unregisters one at a time, each
 * waiting out an RCU grace period (about 20 ms here, as `ip link del` of a tap), so their
 * detach time is mostly ovs-vswitchd and the kernel, whoever sends the request.
 */
const BRIDGE = 'br-int';
const WAIT_MS = 300_000;

const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Every named port exists with an ofport > 0 (checked after the timed section, not in it). */
async function assertAttached(vs: Vswitch, ports: string[]): Promise<void> {
  const byName = new Map((await vs.listInterfaces()).map((i) => [i.name, i]));
  const bad = ports.filter((p) => !((byName.get(p)?.ofport ?? 0) > 0));
  if (bad.length > 0)
    throw new Error(
      `attach incomplete: ${bad.length} ports without ofport (${bad.slice(0, 5).join(', ')})`,
    );
}

async function assertDetached(vs: Vswitch, ports: string[]): Promise<void> {
  const left = new Set((await vs.listInterfaces()).map((i) => i.name));
  const bad = ports.filter((p) => left.has(p));
  if (bad.length > 0)
    throw new Error(`detach incomplete: ${bad.length} ports left (${bad.slice(0, 5).join(', ')})`);
}

type Kind = 'veth' | 'internal';

const addPortArgs = (kind: Kind) => (p: string) => [
  '--may-exist',
  'add-port',
  BRIDGE,
  p,
  ...(kind === 'internal' ? ['--', 'set', 'Interface', p, 'type=internal'] : []),
];
const delPortArgs = (p: string) => ['--if-exists', 'del-port', BRIDGE, p];

async function vsctlLoop(
  ovs: OvsInstance,
  ports: string[],
  args: (p: string) => string[],
): Promise<void> {
  for (const p of ports) await ovs.vsctl(args(p), WAIT_MS);
}

async function vsctlBatch(
  ovs: OvsInstance,
  ports: string[],
  args: (p: string) => string[],
): Promise<void> {
  await ovs.vsctl(
    ports.flatMap((p) => ['--', ...args(p)]),
    WAIT_MS,
  );
}

interface Phase {
  attach: number;
  detach: number;
}

interface KindResult {
  ours: Phase;
  loop: Phase;
  batch: Phase;
}

/** The veth ends stand in for representors: made (untimed) in the netns ovs-vswitchd runs in. */
async function makeVeths(sb: Sandbox, ports: string[]): Promise<void> {
  await sb.ip.batch(
    { name: sb.hostNetns },
    ports.map((p) => ['link', 'add', p, 'type', 'veth', 'peer', 'name', `${p}p`]),
  );
  await sb.ip.batch(
    { name: sb.hostNetns },
    ports.flatMap((p) => [
      ['link', 'set', p, 'up'],
      ['link', 'set', `${p}p`, 'up'],
    ]),
  );
}

async function measureKind(
  sb: Sandbox,
  ovs: OvsInstance,
  v: Vswitch,
  kind: Kind,
  n: number,
  log: (l: string) => void,
): Promise<KindResult> {
  const tag = kind === 'veth' ? 'v' : 'i';
  const ours = names(`${tag}o`, n);
  const loop = names(`${tag}l`, n);
  const batch = names(`${tag}b`, n);
  if (kind === 'veth') await makeVeths(sb, [...ours, ...loop, ...batch]);
  const type = kind === 'internal' ? 'internal' : '';

  log(`${kind} ours: attaching ${n} ports concurrently`);
  const oursAttach = await timeMs(() =>
    Promise.all(
      ours.map(async (name) => {
        await v.attachPort({ bridge: BRIDGE, name, type, interfaceExternalIds: {} });
        await v.waitForOfport(name, WAIT_MS);
      }),
    ),
  );
  await assertAttached(v, ours);
  const oursDetach = await timeMs(async () => {
    await Promise.all(ours.map((name) => v.detachPort(name)));
    await v.syncVswitchd(WAIT_MS);
  });
  await assertDetached(v, ours);

  log(`${kind} ovs-vsctl loop: ${n} add-port calls`);
  const loopAttach = await timeMs(() => vsctlLoop(ovs, loop, addPortArgs(kind)));
  await assertAttached(v, loop);
  const loopDetach = await timeMs(() => vsctlLoop(ovs, loop, delPortArgs));
  await assertDetached(v, loop);

  log(`${kind} ovs-vsctl batch: one call with ${n} add-port commands`);
  const batchAttach = await timeMs(() => vsctlBatch(ovs, batch, addPortArgs(kind)));
  await assertAttached(v, batch);
  const batchDetach = await timeMs(() => vsctlBatch(ovs, batch, delPortArgs));
  await assertDetached(v, batch);
  return {
    ours: { attach: oursAttach, detach: oursDetach },
    loop: { attach: loopAttach, detach: loopDetach },
    batch: { attach: batchAttach, detach: batchDetach },
  };
}

const total = (p: Phase) => round(p.attach + p.detach, 1);

function rowsOf(label: string, r: KindResult): (string | number)[][] {
  const line = (method: string, p: Phase, vsOurs: boolean) => [
    `${label}: ${method}`,
    round(p.attach, 1),
    round(p.detach, 1),
    total(p),
    vsOurs ? round(p.attach / r.ours.attach) : '-',
    vsOurs ? round(p.detach / r.ours.detach) : '-',
    vsOurs ? round(total(p) / total(r.ours)) : '-',
  ];
  return [
    line('ours (1 txn per port, concurrent, 1 connection)', r.ours, false),
    line('ovs-vsctl per port', r.loop, true),
    line('ovs-vsctl batched', r.batch, true),
  ];
}

export const bench: Bench = {
  name: 'ovsdb-attach',
  describe:
    'attach + detach N ports (veth ends, as representors; internal ports secondary): our OVSDB client vs ovs-vsctl per port vs one batched ovs-vsctl',
  async run(ctx) {
    const nArg = ctx.args.find((a) => a.startsWith('--n='));
    const n = nArg ? Number(nArg.slice(4)) : ctx.smoke ? 20 : 500;
    const sb = await Sandbox.create();
    let client: OvsdbClient | undefined;
    let vs: Vswitch | undefined;
    try {
      const ovs = await startOvs(sb);
      await ovs.addBridge(BRIDGE);
      client = await OvsdbClient.connect(ovs.dbTarget);
      const v = new Vswitch(client, { owner: 'bench' });
      vs = v;
      // Start the monitor once, untimed: an agent holds it for its whole life.
      await v.syncVswitchd(WAIT_MS);

      const veth = await measureKind(sb, ovs, v, 'veth', n, ctx.log);
      const internal = await measureKind(sb, ovs, v, 'internal', n, ctx.log);

      const oursMs = total(veth.ours);
      const loopMs = total(veth.loop);
      const batchMs = total(veth.batch);
      const ratioLoop = round(loopMs / oursMs);
      const ratioBatch = round(batchMs / oursMs);
      const internalRatioLoop = round(total(internal.loop) / total(internal.ours));
      const internalRatioBatch = round(total(internal.batch) / total(internal.ours));
      return {
        json: {
          bench: 'ovsdb-attach',
          n,
          ports: 'veth',
          ours_ms: oursMs,
          vsctl_loop_ms: loopMs,
          vsctl_batch_ms: batchMs,
          ratio_vs_loop: ratioLoop,
          ratio_vs_batch: ratioBatch,
          internal: {
            ours_ms: total(internal.ours),
            vsctl_loop_ms: total(internal.loop),
            vsctl_batch_ms: total(internal.batch),
            ratio_vs_loop: internalRatioLoop,
            ratio_vs_batch: internalRatioBatch,
          },
        },
        table: [
          [
            'ports: method',
            'attach ms',
            'detach ms',
            'total ms',
            'ratio attach',
            'ratio detach',
            'ratio total',
          ],
          ...rowsOf('veth', veth),
          ...rowsOf('internal', internal),
        ],
        rows: [
          {
            bench: 'ovsdb-attach',
            metric: 'ratio_vs_loop (veth ports)',
            ours: oursMs,
            peer: loopMs,
            ratio: ratioLoop,
            goal: '≥ 10',
            pass: ratioLoop >= 10,
          },
          {
            bench: 'ovsdb-attach',
            metric: 'ratio_vs_batch (veth ports)',
            ours: oursMs,
            peer: batchMs,
            ratio: ratioBatch,
            goal: '≥ 1',
            pass: ratioBatch >= 1,
          },
          {
            bench: 'ovsdb-attach',
            metric: 'ratio_vs_loop (internal ports)',
            ours: total(internal.ours),
            peer: total(internal.loop),
            ratio: internalRatioLoop,
            goal: 'reported',
            pass: null,
          },
          {
            bench: 'ovsdb-attach',
            metric: 'ratio_vs_batch (internal ports)',
            ours: total(internal.ours),
            peer: total(internal.batch),
            ratio: internalRatioBatch,
            goal: 'reported',
            pass: null,
          },
        ],
      };
    } finally {
      await vs?.close();
      await client?.close();
      const problems = await sb.destroy();
      if (problems.length > 0) ctx.log(`sandbox cleanup: ${problems.join('; ')}`);
    }
  },
};
