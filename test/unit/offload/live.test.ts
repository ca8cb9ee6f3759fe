import { describe, expect, it } from 'vitest';
import { checkLive, gatherLive, type LiveOvsdb } from '../../../src/offload/index.js';
import type { Operation, OperationResult } from '../../../src/ovs/ovsdb/index.js';
import type { InterfaceInfo, OffloadConfig } from '../../../src/ovs/vswitch.js';
import {
  CommandError,
  OvsOffloadError,
  SysFs,
  TimeoutError,
  type CommandRunner,
  type LongRunning,
  type RunOptions,
  type RunResult,
} from '../../../src/sys/index.js';
import { flowLine } from './flows.js';

/** gatherLive against a scripted ovs-appctl and OVSDB: what it runs, reads and joins. */

interface Script {
  /** dump-flows stdout lines and exit code; 'hang' never exits on its own. */
  dump: { lines: string[]; code: number } | 'hang';
  /** What a second (non-streamed) run of the dump answers. */
  rerun?: Partial<RunResult> & { exitCode?: number };
  dpifShow?: string | Error;
}

class ScriptedRunner implements CommandRunner {
  readonly calls: string[] = [];
  constructor(private readonly script: Script) {}

  async run(argv: readonly string[], _opts?: RunOptions): Promise<RunResult> {
    this.calls.push(`run ${argv.join(' ')}`);
    if (argv.includes('dpif/show')) {
      const s = this.script.dpifShow ?? '';
      if (s instanceof Error) throw s;
      return { argv, stdout: s, stderr: '', exitCode: 0 };
    }
    if (argv.includes('dpctl/dump-flows') && this.script.rerun) {
      const r = this.script.rerun;
      if ((r.exitCode ?? 0) !== 0) throw new CommandError(argv, r.exitCode ?? 1, r.stderr ?? '');
      return { argv, stdout: r.stdout ?? '', stderr: '', exitCode: 0 };
    }
    throw new CommandError(argv, 127, 'not scripted');
  }

  stream(argv: readonly string[], onLine: (l: string) => void, opts: RunOptions = {}): LongRunning {
    this.calls.push(`stream ${argv.join(' ')}`);
    const dump = this.script.dump;
    const exited = new Promise<number | null>((resolve) => {
      if (dump === 'hang') {
        opts.signal?.addEventListener('abort', () => resolve(null));
        return;
      }
      // lines arrive after the call returns, as from a pipe
      setImmediate(() => {
        for (const l of dump.lines) onLine(l);
        resolve(dump.code);
      });
    });
    return { exited, pid: 1, kill: () => undefined };
  }
}

function iface(name: string, over: Partial<InterfaceInfo> = {}): InterfaceInfo {
  return {
    name,
    uuid: `uuid-${name}`,
    type: '',
    ofport: 1,
    externalIds: {},
    error: null,
    port: name,
    bridge: 'br-int',
    ...over,
  };
}

class FakeOvsdb implements LiveOvsdb {
  constructor(
    private readonly ifaces: InterfaceInfo[],
    private readonly config: OffloadConfig = { hwOffload: null, tcPolicy: null },
    private readonly fail?: Error,
  ) {}
  async listInterfaces(): Promise<InterfaceInfo[]> {
    if (this.fail) throw this.fail;
    return this.ifaces;
  }
  async getOffloadConfig(): Promise<OffloadConfig> {
    return this.config;
  }
}

const IFACES = [
  iface('br-int', { type: 'internal', ofport: 65534 }),
  iface('rep0', {
    ofport: 1,
    externalIds: { pod_name: 'a', pod_namespace: 'ns', 'iface-id': 'a.ns' },
  }),
  iface('rep1', { ofport: 2, externalIds: { pod_name: 'b', pod_namespace: 'ns' } }),
];

const DPIF = `netdev@ovs-netdev: hit:1 missed:1
  br-int:
    br-int 65534/1: (tap)
    rep0 1/2: (system)
    rep1 2/3: (system)
`;

const DUMP = [
  'flow-dump from the main thread:',
  flowLine({ in: 'rep0', out: ['rep1'], dp: 'ovs', packets: 4 }),
  flowLine({ in: 'rep1', out: ['rep0'], dp: 'ovs', packets: 3 }),
];

describe('gatherLive', () => {
  it('streams dump-flows -m type=all through -t, joins OVSDB and dpif/show', async () => {
    const runner = new ScriptedRunner({ dump: { lines: DUMP, code: 0 }, dpifShow: DPIF });
    const g = await gatherLive({
      runner,
      vswitch: new FakeOvsdb(IFACES, { hwOffload: false, tcPolicy: 'none' }),
      ovsTarget: '/run/ovs/ovs-vswitchd.ctl',
    });
    expect(runner.calls.sort()).toEqual([
      'run ovs-appctl -t /run/ovs/ovs-vswitchd.ctl dpif/show',
      'stream ovs-appctl -t /run/ovs/ovs-vswitchd.ctl dpctl/dump-flows -m type=all',
    ]);
    expect(g.facts).toEqual({ ovs: { hwOffload: false, tcPolicy: 'none' }, nic: null });
    expect(g.ports.find((p) => p.name === 'rep0')).toEqual({
      name: 'rep0',
      ofport: 1,
      odp: 2,
      bridge: 'br-int',
      pod: 'ns/a',
      type: 'system',
      datapath: 'netdev@ovs-netdev',
      error: null,
    });
    expect(g.tally.tokens()).toEqual(['rep0', 'rep1']);
    expect(g.notes).toEqual([]);
  });

  it('without -t, ovs-appctl finds the daemon itself; checkLive gives the verdict', async () => {
    const runner = new ScriptedRunner({ dump: { lines: DUMP, code: 0 }, dpifShow: DPIF });
    const r = await checkLive({ runner, vswitch: new FakeOvsdb(IFACES) }, { pod: 'ns/b' });
    expect(runner.calls).toContain('stream ovs-appctl dpctl/dump-flows -m type=all');
    expect(r.source).toBe('live');
    expect(r.ports.map((p) => [p.port, p.odp, p.verdict])).toEqual([['rep1', 3, 'software']]);
    expect(r.ports[0]!.reasons.map((x) => x.code)).toEqual([
      'userspace-datapath',
      'hw-offload-off',
      'software-datapath',
    ]);
  });

  it('a failed dump is run once more for its reason, and is an error', async () => {
    const runner = new ScriptedRunner({
      dump: { lines: [], code: 1 },
      rerun: {
        exitCode: 1,
        stderr: 'ovs-appctl: cannot connect to "/run/x.ctl" (No such file or directory)',
      },
      dpifShow: DPIF,
    });
    const err = await gatherLive({
      runner,
      vswitch: new FakeOvsdb(IFACES),
      ovsTarget: '/run/x.ctl',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OvsOffloadError);
    expect((err as Error).message).toMatch(
      /^dump datapath flows: run ovs-appctl .*cannot connect to/,
    );
    expect((err as Error).cause).toBeInstanceOf(CommandError);
  });

  it('a dump that succeeds the second time is used', async () => {
    const runner = new ScriptedRunner({
      dump: { lines: [], code: 1 },
      rerun: { stdout: DUMP.join('\n') + '\n' },
      dpifShow: DPIF,
    });
    const g = await gatherLive({ runner, vswitch: new FakeOvsdb(IFACES) });
    expect(g.tally.all.get().total).toBe(2);
  });

  it('a dump that does not end is cut at the timeout', async () => {
    const runner = new ScriptedRunner({ dump: 'hang', dpifShow: DPIF });
    const err = await gatherLive({ runner, vswitch: new FakeOvsdb(IFACES), timeoutMs: 50 }).catch(
      (e: unknown) => e,
    );
    expect((err as Error).cause).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/ovs-appctl dpctl\/dump-flows: timed out after 50 ms/);
  });

  it('no dpif/show, no sysfs: the verdict says less, with notes', async () => {
    const runner = new ScriptedRunner({
      dump: { lines: DUMP, code: 0 },
      dpifShow: new CommandError(['ovs-appctl', 'dpif/show'], 2, 'unknown command'),
    });
    const g = await gatherLive({
      runner,
      vswitch: new FakeOvsdb(IFACES),
      nicCtx: { sysfs: new SysFs('/nonexistent-sysfs-root'), runner },
    });
    expect(g.facts.nic).toBeNull();
    expect(g.ports.find((p) => p.name === 'rep0')).toMatchObject({
      odp: null,
      datapath: null,
      type: 'system',
    });
    expect(g.notes).toHaveLength(2);
    expect(g.notes[0]).toMatch(/dpif\/show failed/);
    expect(g.notes[1]).toMatch(/^NIC facts unknown/);
  });

  it('an OVSDB failure is an error', async () => {
    const runner = new ScriptedRunner({ dump: { lines: DUMP, code: 0 }, dpifShow: DPIF });
    await expect(
      gatherLive({
        runner,
        vswitch: new FakeOvsdb(IFACES, undefined, new Error('connection reset')),
      }),
    ).rejects.toThrow(/^read OVS interfaces: connection reset/);
  });
});

describe('gatherLive on a node with DPDK ports', () => {
  /** Answers the three selects dpdk-ports.ts makes, in OVSDB's wire shape. */
  const transport = (initialized: boolean) => ({
    seen: [] as string[],
    async transact(_db: string, ops: readonly Operation[]): Promise<OperationResult[]> {
      const op = ops[0] as { table: string };
      return this.answer(op.table) as OperationResult[];
    },
    answer(table: string): unknown {
      const op = { table };
      this.seen.push(op.table);
      if (op.table === 'Interface') {
        return [
          {
            rows: [
              {
                name: 'pf0vf1rep',
                options: ['map', [['dpdk-devargs', '0000:81:00.0,representor=[1]']]],
                link_state: ['set', []],
                error: "Error attaching device '0000:81:00.0,representor=[1]' to DPDK",
                ofport: -1,
                mtu: ['set', []],
                mtu_request: 1500,
              },
            ],
          },
        ];
      }
      if (op.table === 'Open_vSwitch') {
        return [
          {
            rows: [
              {
                other_config: [
                  'map',
                  [
                    ['dpdk-init', 'true'],
                    ['hw-offload', 'true'],
                  ],
                ],
                dpdk_initialized: initialized,
              },
            ],
          },
        ];
      }
      return [{ rows: [{ name: 'br-int', datapath_type: 'netdev' }] }];
    },
    async getSchema(): Promise<never> {
      throw new Error('not used');
    },
    async monitorCond(): Promise<never> {
      throw new Error('not used');
    },
  });

  it('reads devargs and dpdk_initialized only because a type=dpdk port exists; the error is quoted', async () => {
    const runner = new ScriptedRunner({ dump: { lines: [], code: 0 }, dpifShow: '' });
    const t = transport(true);
    const rep = iface('pf0vf1rep', {
      type: 'dpdk',
      ofport: -1,
      error: "Error attaching device '0000:81:00.0,representor=[1]' to DPDK",
      externalIds: { pod_name: 'b', pod_namespace: 'ns' },
    });
    const report = await checkLive({
      runner,
      vswitch: new FakeOvsdb([rep], { hwOffload: true, tcPolicy: null }),
      ovsdb: t,
    });
    expect(t.seen.sort()).toEqual(['Bridge', 'Interface', 'Open_vSwitch']);
    expect(report.facts.ovs).toEqual({
      hwOffload: true,
      tcPolicy: null,
      dpdk: { init: 'true', initialized: true },
    });
    const reason = report.ports[0]!.reasons.find((r) => r.code === 'interface-error')!;
    expect(reason.message).toMatch(/Error attaching device '0000:81:00\.0,representor=\[1\]'/);
    expect(reason.fix).toMatch(/no DPDK PMD could probe the devargs/);
  });

  it('a kernel-only node never reads the DPDK rows', async () => {
    const runner = new ScriptedRunner({ dump: { lines: DUMP, code: 0 }, dpifShow: DPIF });
    const t = transport(true);
    const g = await gatherLive({ runner, vswitch: new FakeOvsdb(IFACES), ovsdb: t });
    expect(t.seen).toEqual([]);
    expect(g.facts.ovs).toEqual({ hwOffload: null, tcPolicy: null });
  });
});
