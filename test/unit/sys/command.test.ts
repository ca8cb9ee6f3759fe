import { describe, expect, it } from 'vitest';
import { CommandError, ExecaRunner, Ip, netnsFromPath } from '../../../src/sys/index.js';
import { RecordingRunner } from '../../helpers/recording-runner.js';

describe('ExecaRunner', () => {
  const runner = new ExecaRunner();

  it('returns stdout and exit code', async () => {
    const r = await runner.run(['sh', '-c', 'echo hi; echo err >&2']);
    expect(r).toMatchObject({ stdout: 'hi\n', stderr: 'err\n', exitCode: 0 });
  });

  it('throws CommandError with argv, exit code and stderr', async () => {
    const err = await runner.run(['sh', '-c', 'echo boom >&2; exit 3']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect(err).toMatchObject({
      argv: ['sh', '-c', 'echo boom >&2; exit 3'],
      exitCode: 3,
      stderr: 'boom\n',
    });
    expect((err as Error).message).toBe('run sh -c echo boom >&2; exit 3: exit 3: boom');
  });

  it('accepts listed exit codes as answers', async () => {
    const r = await runner.run(['sh', '-c', 'exit 1'], { okExitCodes: [1] });
    expect(r.exitCode).toBe(1);
  });

  it('kills a command at its timeout', async () => {
    const err = await runner.run(['sleep', '5'], { timeoutMs: 100 }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/timed out/);
  });

  it('honours an AbortSignal', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await expect(runner.run(['sleep', '5'], { signal: ac.signal })).rejects.toBeInstanceOf(
      CommandError,
    );
  });

  it('never takes an empty argv', async () => {
    await expect(runner.run([])).rejects.toThrow(/empty argv/);
  });
});

describe('Ip', () => {
  const rec = new RecordingRunner().on(/^ip /, { stdout: '' }).on(/^nsenter /, { stdout: '' });
  const ip = new Ip(rec);

  it('runs in the current netns, a named netns (-n) or a netns path (nsenter)', async () => {
    await ip.run(null, ['link', 'show']);
    await ip.run({ name: 'pod1' }, ['link', 'show']);
    await ip.run({ path: '/proc/42/ns/net' }, ['link', 'show']);
    expect(rec.lines()).toEqual([
      'ip link show',
      'ip -n pod1 link show',
      'nsenter --net=/proc/42/ns/net ip link show',
    ]);
  });

  it('maps CNI_NETNS paths under /run/netns to names', () => {
    expect(netnsFromPath('/var/run/netns/cni-1234')).toEqual({ name: 'cni-1234' });
    expect(netnsFromPath('/run/netns/cni-1234')).toEqual({ name: 'cni-1234' });
    expect(netnsFromPath('/proc/7/ns/net')).toEqual({ path: '/proc/7/ns/net' });
    expect(() => netnsFromPath('relative/ns')).toThrow(/clean absolute path/);
  });

  it('refuses batch arguments that would split or comment a line', async () => {
    await expect(ip.batch(null, [['link', 'set', 'eth0 up']])).rejects.toThrow(
      /cannot go into an ip batch/,
    );
    await expect(ip.batch(null, [['link', 'set', 'a#b']])).rejects.toThrow(
      /cannot go into an ip batch/,
    );
  });
});

describe('RecordingRunner', () => {
  it('fails calls nobody answers, so unexpected commands show up', async () => {
    const rec = new RecordingRunner();
    await expect(rec.run(['devlink', 'dev'])).rejects.toMatchObject({ exitCode: 127 });
    expect(rec.lines()).toEqual(['devlink dev']);
  });
});
