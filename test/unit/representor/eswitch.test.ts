import { afterEach, describe, expect, it } from 'vitest';
import {
  CommandError,
  InvalidInputError,
  NotFoundError,
  NotSupportedError,
} from '../../../src/sys/index.js';
import { RecordingRunner } from '../../helpers/recording-runner.js';
import {
  ensureHwTcOffload,
  getEswitchMode,
  parseHwTcOffload,
  readEswitch,
  setEswitchMode,
} from '../../../src/representor/index.js';
import { buildSysfsTree, devlinkRunner, type Tree } from '../../helpers/sysfs-tree.js';

let t: Tree;
afterEach(async () => t?.cleanup());

const PF = '0000:03:00.0';
async function onePf(): Promise<Tree> {
  return buildSysfsTree({
    pfs: [{ pci: PF, driver: 'mlx5_core', totalVfs: 4, netdevs: ['eth0'] }],
  });
}

describe('getEswitchMode', () => {
  it.each([
    ['switchdev', 'switchdev'],
    ['legacy', 'legacy'],
    ['none', 'legacy'],
  ] as const)('devlink says %s → %s', async (answer, want) => {
    t = await onePf();
    const r = devlinkRunner({ eswitch: { [PF]: answer } });
    expect(await getEswitchMode({ sysfs: t.sysfs, runner: r }, PF)).toBe(want);
    expect(r.lines()).toEqual([`devlink -j dev eswitch show pci/${PF}`]);
  });

  it('a driver without eswitch ops (EOPNOTSUPP) and a missing devlink binary are legacy too', async () => {
    t = await onePf();
    const notsup = new RecordingRunner().on(/devlink/, {
      exitCode: 1,
      stderr: 'kernel answers: Operation not supported\n',
    });
    expect(await getEswitchMode({ sysfs: t.sysfs, runner: notsup }, PF)).toBe('legacy');
    const missing = new RecordingRunner().respond((argv) => {
      const enoent = Object.assign(new Error('spawn devlink ENOENT'), { code: 'ENOENT' });
      throw new CommandError(argv, null, 'spawn devlink ENOENT', { cause: enoent });
    });
    expect(await getEswitchMode({ sysfs: t.sysfs, runner: missing }, PF)).toBe('legacy');
  });

  it('garbage, a timeout or another failure is an error, not "legacy"', async () => {
    t = await onePf();
    const garbage = devlinkRunner({ eswitch: { [PF]: { stdout: '<html>' } } });
    await expect(getEswitchMode({ sysfs: t.sysfs, runner: garbage }, PF)).rejects.toBeInstanceOf(
      NotSupportedError,
    );
    const eperm = new RecordingRunner().on(/devlink/, {
      exitCode: 1,
      stderr: 'devlink answers: Operation not permitted\n',
    });
    await expect(getEswitchMode({ sysfs: t.sysfs, runner: eperm }, PF)).rejects.toThrow(
      /Operation not permitted/,
    );
  });

  it('bad PCI addresses and absent PFs never reach devlink', async () => {
    t = await onePf();
    const r = new RecordingRunner();
    await expect(getEswitchMode({ sysfs: t.sysfs, runner: r }, '3:00.0')).rejects.toThrow(
      InvalidInputError,
    );
    await expect(readEswitch({ sysfs: t.sysfs, runner: r }, '0000:04:00.0')).rejects.toThrow(
      NotFoundError,
    );
    await expect(
      setEswitchMode({ sysfs: t.sysfs, runner: r }, 'pci/0000:03:00.0', 'switchdev'),
    ).rejects.toThrow(InvalidInputError);
    expect(r.calls).toEqual([]);
  });
});

describe('setEswitchMode', () => {
  it('runs devlink dev eswitch set and carries the driver refusal in its error', async () => {
    t = await onePf();
    const r = new RecordingRunner().on(/eswitch set/, {
      exitCode: 1,
      stderr:
        'Error: mlx5_core: Can not change eswitch mode while VFs are bound to a driver.\nkernel answers: Device or resource busy\n',
    });
    const err = await setEswitchMode({ sysfs: t.sysfs, runner: r }, PF, 'switchdev').catch(
      (e: unknown) => e,
    );
    expect((err as Error).message).toBe(
      'set eswitch mode of pci/0000:03:00.0 to switchdev: Error: mlx5_core: Can not change eswitch mode while VFs are bound to a driver. | kernel answers: Device or resource busy',
    );
    expect(r.lines()).toEqual([`devlink dev eswitch set pci/${PF} mode switchdev`]);
  });
});

describe('hw-tc-offload', () => {
  it.each([
    ['hw-tc-offload: on\n', true],
    ['Features for eth0:\nrx-checksumming: on\nhw-tc-offload: off [fixed]\n', false],
    ['hw-tc-offload: on [requested off]\n', true],
    ['Features for eth0:\n', null],
  ])('parses %j', (text, want) => {
    expect(parseHwTcOffload(text)).toBe(want);
  });

  it('-k, then -K and -k again where off; a refusal or a silent no-op is a warning', async () => {
    const state = new Map([
      ['up0', false],
      ['rep0', false],
      ['rep1', false],
      ['rep2', true],
    ]);
    const r = new RecordingRunner()
      .on('ethtool -K rep1 hw-tc-offload on', {
        exitCode: 1,
        stderr: 'Cannot change hw-tc-offload\nCould not change any device features\n',
      })
      .on('ethtool -K up0 hw-tc-offload on', () => (state.set('up0', true), {}))
      .on('ethtool -K rep0 hw-tc-offload on', {})
      .on(/^ethtool -k /, (argv) => ({
        stdout: `Features for ${argv[2]}:\nhw-tc-offload: ${state.get(argv[2]!) ? 'on' : 'off'}\n`,
      }));
    const res = await ensureHwTcOffload({ sysfs: null as never, runner: r }, [
      'up0',
      'rep0',
      'rep1',
      'rep2',
    ]);
    expect(res.on).toEqual(['up0', 'rep2']);
    // rep2 was on already: not written, and not ours to switch off on undo.
    expect(res.switched).toEqual(['up0']);
    expect(res.warnings).toEqual([
      'hw-tc-offload on rep0: still off (tc rules stay in software)',
      'hw-tc-offload on rep1: Cannot change hw-tc-offload (tc rules stay in software)',
    ]);
    const per = (dev: string) => r.lines().filter((l) => l.split(' ')[2] === dev);
    expect(per('up0')).toEqual([
      'ethtool -k up0',
      'ethtool -K up0 hw-tc-offload on',
      'ethtool -k up0',
    ]);
    expect(per('rep1')).toEqual([
      'ethtool -k rep1',
      'ethtool -K rep1 hw-tc-offload on',
      'ethtool -k rep1',
    ]);
    expect(per('rep2')).toEqual(['ethtool -k rep2']);
  });

  it('runs at most 8 netdevs at once', async () => {
    let inFlight = 0;
    let peak = 0;
    const runner = new RecordingRunner().respond(async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((res) => setTimeout(res, 5));
      inFlight--;
      return { stdout: 'hw-tc-offload: on\n' };
    });
    const devs = Array.from({ length: 40 }, (_, i) => `rep${i}`);
    const res = await ensureHwTcOffload({ sysfs: null as never, runner }, devs);
    expect(res.on).toEqual(devs);
    expect(res.switched).toEqual([]);
    expect(peak).toBe(8);
  });
});
