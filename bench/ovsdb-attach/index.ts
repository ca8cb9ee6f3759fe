import { OvsdbClient } from '../../src/ovs/ovsdb/index.js';
import { Vswitch } from '../../src/ovs/vswitch.js';
import { Sandbox, startOvs, type OvsInstance } from '../../src/sandbox/index.js';
import { round, timeMs } from '../lib/stats.js';
import type { Bench } from '../lib/types.js';

/**
 * Attach then detach N internal ports on a fresh sandbox OVS, three ways, each counted done
 * only when ovs-vswitchd has acted (every port has its ofport; on detach, ovs-vswitchd has
 * applied the removal: cur_cfg caught up), as ovs-vsctl waits for ovs-vswitchd by default:
 *  - ours: one transaction per port, all issued concurrently on one connection, ofports
 *    awaited through the Vswitch's single monitor;
 *  - `ovs-vsctl --may-exist add-port` (then `--if-exists del-port`) once per port;
 *  - one ovs-vsctl call carrying all N commands.
 *
 * Reading the detach column: on the userspace datapath every removed internal port is a tap
 * device the kernel unregisters one at a time, each waiting out an RCU grace period (about
 * 20 ms here, the same as `ip link del` of a tap), so detach time is mostly ovs-vswitchd and
 * the kernel, whoever sends the request; the per-phase ratios show where the client matters.
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

const addPortArgs = (p: string) => [
  '--may-exist',
  'add-port',
  BRIDGE,
  p,
  '--',
  'set',
  'Interface',
  p,
  'type=internal',
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

export const bench: Bench = {
  name: 'ovsdb-attach',
  describe:
    'attach + detach N internal ports: our OVSDB client vs ovs-vsctl per port vs one batched ovs-vsctl',
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

      const ours = names('o', n);
      ctx.log(`ours: attaching ${n} ports concurrently`);
      const oursAttach = await timeMs(() =>
        Promise.all(
          ours.map(async (name) => {
            await v.attachPort({
              bridge: BRIDGE,
              name,
              type: 'internal',
              interfaceExternalIds: {},
            });
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

      const loop = names('l', n);
      ctx.log(`ovs-vsctl loop: ${n} add-port calls`);
      const loopAttach = await timeMs(() => vsctlLoop(ovs, loop, addPortArgs));
      await assertAttached(v, loop);
      const loopDetach = await timeMs(() => vsctlLoop(ovs, loop, delPortArgs));
      await assertDetached(v, loop);

      const batch = names('b', n);
      ctx.log(`ovs-vsctl batch: one call with ${n} add-port commands`);
      const batchAttach = await timeMs(() => vsctlBatch(ovs, batch, addPortArgs));
      await assertAttached(v, batch);
      const batchDetach = await timeMs(() => vsctlBatch(ovs, batch, delPortArgs));
      await assertDetached(v, batch);

      const oursMs = round(oursAttach + oursDetach, 1);
      const loopMs = round(loopAttach + loopDetach, 1);
      const batchMs = round(batchAttach + batchDetach, 1);
      const ratioLoop = round(loopMs / oursMs);
      const ratioBatch = round(batchMs / oursMs);
      return {
        json: {
          bench: 'ovsdb-attach',
          n,
          ours_ms: oursMs,
          vsctl_loop_ms: loopMs,
          vsctl_batch_ms: batchMs,
          ratio_vs_loop: ratioLoop,
          ratio_vs_batch: ratioBatch,
        },
        table: [
          [
            'method',
            'attach ms',
            'detach ms',
            'total ms',
            'ratio attach',
            'ratio detach',
            'ratio total',
          ],
          [
            'ours (1 txn per port, concurrent, 1 connection)',
            round(oursAttach, 1),
            round(oursDetach, 1),
            oursMs,
            '-',
            '-',
            '-',
          ],
          [
            'ovs-vsctl per port',
            round(loopAttach, 1),
            round(loopDetach, 1),
            loopMs,
            round(loopAttach / oursAttach),
            round(loopDetach / oursDetach),
            ratioLoop,
          ],
          [
            'ovs-vsctl batched',
            round(batchAttach, 1),
            round(batchDetach, 1),
            batchMs,
            round(batchAttach / oursAttach),
            round(batchDetach / oursDetach),
            ratioBatch,
          ],
        ],
        rows: [
          {
            bench: 'ovsdb-attach',
            metric: 'ratio_vs_loop',
            ours: oursMs,
            peer: loopMs,
            ratio: ratioLoop,
            goal: '≥ 10',
            pass: ratioLoop >= 10,
          },
          {
            bench: 'ovsdb-attach',
            metric: 'ratio_vs_batch',
            ours: oursMs,
            peer: batchMs,
            ratio: ratioBatch,
            goal: '≥ 0.5',
            pass: ratioBatch >= 0.5,
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
