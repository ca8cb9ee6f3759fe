import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkLive, renderReport, type LiveOvsdb } from '../../../src/offload/index.js';
import type { InterfaceInfo } from '../../../src/ovs/vswitch.js';
import {
  CommandError,
  type CommandRunner,
  type LongRunning,
  type RunResult,
} from '../../../src/sys/index.js';

/** The live check's TC view (kernel datapath) and offload-stats-show (userspace datapath). */

const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures');
const read = (p: string) => readFileSync(path.join(FIX, p), 'utf8');

class Runner implements CommandRunner {
  readonly calls: string[] = [];
  constructor(
    private readonly dpifShow: string,
    private readonly answers: Record<string, string | Error>,
  ) {}

  async run(argv: readonly string[]): Promise<RunResult> {
    const cmd = argv.join(' ');
    this.calls.push(cmd);
    if (argv.includes('dpif/show')) return { argv, stdout: this.dpifShow, stderr: '', exitCode: 0 };
    const a = this.answers[cmd];
    if (a === undefined) throw new CommandError(argv, 127, 'not scripted');
    if (a instanceof Error) throw a;
    return { argv, stdout: a, stderr: '', exitCode: 0 };
  }

  stream(argv: readonly string[], onLine: (l: string) => void): LongRunning {
    this.calls.push(`stream ${argv.join(' ')}`);
    const lines = read('tc/pf0vf0-dump.txt')
      .split('\n')
      .filter((l) => l !== '');
    const exited = new Promise<number | null>((resolve) =>
      setImmediate(() => {
        for (const l of lines) onLine(l);
        resolve(0);
      }),
    );
    return { exited, pid: 1, kill: () => undefined };
  }
}

const iface = (name: string, pod: string): InterfaceInfo => ({
  name,
  uuid: `uuid-${name}`,
  type: '',
  ofport: 1,
  externalIds: { pod_namespace: 'default', pod_name: pod },
  error: null,
  port: name,
  bridge: 'br-int',
});

const ovsdb: LiveOvsdb = {
  listInterfaces: () => Promise.resolve([iface('pf0vf0', 'client'), iface('pf0vf1', 'server')]),
  getOffloadConfig: () => Promise.resolve({ hwOffload: true, tcPolicy: null }),
};

const TC0 = 'tc -s -j filter show dev pf0vf0 ingress';
const TC1 = 'tc -s -j filter show dev pf0vf1 ingress';
const STATS = 'ovs-appctl dpctl/offload-stats-show';

describe('checkLive: TC view and offload stats', () => {
  it('kernel datapath: runs tc per port, joins cookies with ufids, no offload-stats', async () => {
    const runner = new Runner(
      'system@ovs-system: hit:0 missed:0\n  br-int:\n    pf0vf0 1/2: (system)\n    pf0vf1 2/3: (system)\n',
      {
        [TC0]: read('tc/ovs-pf0vf0-derived.json'),
        [TC1]: new CommandError(['tc'], 1, 'Cannot find device "pf0vf1"'),
      },
    );
    const report = await checkLive({ runner, vswitch: ovsdb });
    expect(runner.calls).toContain(TC0);
    expect(runner.calls).not.toContain(STATS);
    const p0 = report.ports.find((p) => p.port === 'pf0vf0');
    expect(p0?.tc).toMatchObject({ filters: 3, missing: 1, notInHw: 1 });
    expect(p0?.reasons.map((r) => r.code)).toEqual(
      expect.arrayContaining(['tc-filter-missing', 'tc-not-in-hw', 'tc-hw-counters-zero']),
    );
    expect(report.ports.find((p) => p.port === 'pf0vf1')?.tc).toBeUndefined();
    expect(report.notes.some((n) => n.startsWith('tc filter show dev pf0vf1 ingress failed'))).toBe(
      true,
    );
    expect(report.offloadStats).toBeUndefined();
    expect(renderReport(report)).toContain(
      'pf0vf0 (default/client): TC ingress: 3 flower filters (2 in_hw, 1 not_in_hw, 0 skip_hw) for 4 dp:tc flows, 1 offloaded without a filter',
    );
  });

  it('userspace datapath: no tc, offload-stats-show in the report and the text', async () => {
    const runner = new Runner(
      'netdev@ovs-netdev: hit:0 missed:0\n  br-int:\n    pf0vf0 1/2: (dpdk: configured_rx_queues=1)\n    pf0vf1 2/3: (dpdk: configured_rx_queues=1)\n',
      { [STATS]: read('offload-stats/dpif-netdev-v3.3-derived.txt') },
    );
    const report = await checkLive({ runner, vswitch: ovsdb });
    expect(runner.calls.some((c) => c.startsWith('tc '))).toBe(false);
    expect(report.offloadStats?.counters).toHaveLength(18);
    const text = renderReport(report);
    expect(text).toContain('offload stats (dpctl/offload-stats-show):');
    expect(text).toContain('  thread 1: Enqueued offloads 5, Inserted offloads 4,');
  });

  it('offload-stats-show failing is a note; with hw-offload off it is not asked for', async () => {
    const runner = new Runner(
      'netdev@ovs-netdev: hit:0 missed:0\n  br-int:\n    pf0vf0 1/2: (dpdk)\n',
      {
        [STATS]: new CommandError(
          ['ovs-appctl'],
          2,
          'retrieving offload statistics failed (Invalid argument)',
        ),
      },
    );
    const report = await checkLive({ runner, vswitch: ovsdb });
    expect(report.offloadStats).toBeUndefined();
    expect(
      report.notes.some((n) => n.startsWith('ovs-appctl dpctl/offload-stats-show failed')),
    ).toBe(true);
    const off: LiveOvsdb = {
      ...ovsdb,
      getOffloadConfig: () => Promise.resolve({ hwOffload: false, tcPolicy: null }),
    };
    const quiet = new Runner(
      'netdev@ovs-netdev: hit:0 missed:0\n  br-int:\n    pf0vf0 1/2: (dpdk)\n',
      {},
    );
    const r2 = await checkLive({ runner: quiet, vswitch: off });
    expect(quiet.calls).not.toContain(STATS);
    expect(r2.offloadStats).toBeUndefined();
    expect(r2.notes.some((n) => n.includes('offload-stats-show'))).toBe(false);
  });
});
