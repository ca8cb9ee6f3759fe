import { describe, expect, it } from 'vitest';
import { dumpFlows, dumpFlowsArgv, type DpFlow } from '../../../src/ovs/dpctl/index.js';
import type { CommandRunner, LongRunning, RunOptions } from '../../../src/sys/index.js';
import { dumpflowsFixture } from '../../helpers/dpctl-fixtures.js';

/** A CommandRunner whose stream() plays back a captured dump line by line. */
class PlaybackRunner implements CommandRunner {
  readonly calls: { argv: readonly string[]; opts: RunOptions | undefined }[] = [];

  constructor(
    private readonly text: string,
    private readonly code: number | null = 0,
  ) {}

  run(): never {
    throw new Error('dumpFlows must stream, not buffer');
  }

  stream(argv: readonly string[], onLine: (line: string) => void, opts?: RunOptions): LongRunning {
    this.calls.push({ argv, opts });
    for (const line of this.text.split('\n')) onLine(line);
    return { exited: Promise.resolve(this.code), pid: 1, kill: () => undefined };
  }
}

describe('dumpFlows', () => {
  it('runs dpctl/dump-flows -m type=all by default, with -t when a target is given', () => {
    expect(dumpFlowsArgv()).toEqual(['ovs-appctl', 'dpctl/dump-flows', '-m', 'type=all']);
    expect(
      dumpFlowsArgv({ target: '/run/ovs/ovs-vswitchd.ctl', type: 'offloaded', verbose: false }),
    ).toEqual([
      'ovs-appctl',
      '-t',
      '/run/ovs/ovs-vswitchd.ctl',
      'dpctl/dump-flows',
      'type=offloaded',
    ]);
  });

  it('parses the streamed lines into the sink and returns the summary (port filter applied)', async () => {
    const runner = new PlaybackRunner(dumpflowsFixture('sriovop-vdpa-m-ct-drop.txt'));
    const flows: DpFlow[] = [];
    const errors: unknown[] = [];
    const summary = await dumpFlows(
      runner,
      { flow: (f) => flows.push(f), error: (e) => errors.push(e) },
      { port: '8630f7a90005cdd', env: { OVS_RUNDIR: '/tmp/x' } },
    );
    expect(summary).toEqual({ flows: 1, packets: 2156610, bytes: 3049431372, offloaded: 1 });
    expect(flows.map((f) => f.inPort)).toEqual(['8630f7a90005cdd']);
    expect(errors).toEqual([]);
    expect(runner.calls[0]!.opts?.env).toEqual({ OVS_RUNDIR: '/tmp/x' });
    expect(runner.calls[0]!.opts?.signal).toBeInstanceOf(AbortSignal);
  });

  it('fails with the command when ovs-appctl exits non-zero', async () => {
    const runner = new PlaybackRunner('', 2);
    await expect(
      dumpFlows(runner, { flow: () => undefined, error: () => undefined }),
    ).rejects.toThrow(/^run ovs-appctl dpctl\/dump-flows -m type=all: exit 2$/);
  });
});
