import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidInputError, NotFoundError, TimeoutError } from '../../../src/sys/index.js';
import { RecordingRunner } from '../../helpers/recording-runner.js';
import { bindDriver, setNumVfs, unbindDriver } from '../../../src/vf/index.js';
import { capture } from '../../helpers/captures.js';
import { buildSysfsTree, vfRange, type Tree } from '../../helpers/sysfs-tree.js';

/**
 * What the VF lifecycle refuses, on a static tree (no kernel acts on writes here: the
 * integration tests drive the emulated NIC for that). Bad input must change nothing.
 */

let t: Tree;
afterEach(async () => t.cleanup());

// kubeovn-corigine-nfp-sriov-totalvfs-65.txt
const NFP_TOTAL = Number(capture('kubeovn-corigine-nfp-sriov-totalvfs-65.txt').trim());

async function nfp(): Promise<Tree> {
  return buildSysfsTree({
    pfs: [
      {
        pci: '0000:82:00.0',
        vendor: '19ee',
        device: '4000',
        driver: 'nfp',
        totalVfs: NFP_TOTAL,
        netdevs: ['ens3'],
        vfs: vfRange('0000:82:08.0', 4, (i) => ({
          vendor: '19ee',
          device: '6003',
          driver: i === 3 ? null : 'nfp_netvf',
          netdevs: i === 3 ? [] : [`ens3v${i}`],
        })),
      },
      { pci: '0000:82:00.1', driver: 'nfp', totalVfs: NFP_TOTAL, numVfs: 0, netdevs: ['ens4'] },
    ],
  });
}

const ctx = (tree: Tree) => ({ sysfs: tree.sysfs, runner: new RecordingRunner() });

describe('setNumVfs: bad input changes nothing', () => {
  it.each<[string, string, number, new (...args: never[]) => Error, RegExp]>([
    [
      'a PCI address not DDDD:BB:DD.F',
      '82:00.0',
      2,
      InvalidInputError,
      /PF: "82:00\.0" is not a PCI address of the form DDDD:BB:DD\.F/,
    ],
    [
      'a PF that does not exist',
      '0000:83:00.0',
      2,
      NotFoundError,
      /find PF 0000:83:00\.0: no such PCI device/,
    ],
    [
      'a VF instead of a PF',
      '0000:82:08.1',
      0,
      InvalidInputError,
      /0000:82:08\.1 is a VF \(of PF 0000:82:00\.0\)/,
    ],
    [
      'numVfs above sriov_totalvfs (nfp: 65)',
      '0000:82:00.0',
      66,
      InvalidInputError,
      /numVfs: 66 is above sriov_totalvfs 65 of 0000:82:00\.0/,
    ],
    [
      'a negative numVfs',
      '0000:82:00.0',
      -1,
      InvalidInputError,
      /numVfs: -1 is not a whole number/,
    ],
    ['a fractional numVfs', '0000:82:00.1', 1.5, InvalidInputError, /numVfs: 1\.5/],
  ])('%s', async (_name, pf, n, type, message) => {
    t = await nfp();
    const before = await t.fingerprint();
    const err = await setNumVfs(ctx(t), pf, n, { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(type);
    expect((err as Error).message).toMatch(message);
    expect(await t.fingerprint()).toEqual(before);
  });

  it('the current count, all VFs present: returns at once without writing', async () => {
    t = await nfp();
    const before = await t.fingerprint();
    await setNumVfs(ctx(t), '0000:82:00.0', 4, { timeoutMs: 2000 });
    expect(await t.fingerprint()).toEqual(before);
  });

  it('all 65 are allowed; a kernel that does not act is a bounded wait that names what is missing', async () => {
    t = await nfp();
    const err = await setNumVfs(ctx(t), '0000:82:00.1', NFP_TOTAL, { timeoutMs: 300 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(
      /wait for 65 VFs of 0000:82:00\.1 \(missing: 0 of 65 virtfn links, virtfn0.*\): timed out after 300 ms/,
    );
    expect(
      (await readFile(t.sys('bus/pci/devices/0000:82:00.1/sriov_numvfs'), 'utf8')).trim(),
    ).toBe('65');
  });

  it('between two non-zero counts it writes 0 first', async () => {
    t = await nfp();
    const err = await setNumVfs(ctx(t), '0000:82:00.0', 2, { timeoutMs: 200 }).catch(
      (e: unknown) => e,
    );
    // The static tree keeps its virtfn links, so the wait for 0 VFs times out: 2 was never written.
    expect((err as Error).message).toMatch(/wait for 0 VFs of 0000:82:00\.0/);
    expect(
      (await readFile(t.sys('bus/pci/devices/0000:82:00.0/sriov_numvfs'), 'utf8')).trim(),
    ).toBe('0');
  });
});

describe('bindDriver / unbindDriver: bad input changes nothing', () => {
  it.each<[string, () => Promise<unknown>, new (...args: never[]) => Error, RegExp]>([
    [
      'a driver name with a slash',
      () => bindDriver(ctx(t), '0000:82:08.0', '../x'),
      InvalidInputError,
      /driver: "\.\.\/x" is not a driver name/,
    ],
    [
      'a driver that is not loaded',
      () => bindDriver(ctx(t), '0000:82:08.3', 'vfio-pci'),
      NotFoundError,
      /bind VF 0000:82:08\.3 to vfio-pci: the driver is not loaded .*modprobe vfio-pci/,
    ],
    [
      'a PF instead of a VF',
      () => unbindDriver(ctx(t), '0000:82:00.0'),
      InvalidInputError,
      /0000:82:00\.0 is not a VF/,
    ],
    [
      'a VF that does not exist',
      () => unbindDriver(ctx(t), '0000:82:09.7'),
      NotFoundError,
      /find VF 0000:82:09\.7: no such PCI device/,
    ],
    [
      'a bad PCI address',
      () => bindDriver(ctx(t), '0000:82:08', 'nfp_netvf'),
      InvalidInputError,
      /VF: "0000:82:08" is not a PCI address/,
    ],
  ])('%s', async (_name, call, type, message) => {
    t = await nfp();
    const before = await t.fingerprint();
    const err = await call().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(type);
    expect((err as Error).message).toMatch(message);
    expect(await t.fingerprint()).toEqual(before);
  });

  it('nothing to do: unbinding an unbound VF, binding to the driver it has', async () => {
    t = await nfp();
    const before = await t.fingerprint();
    expect(await unbindDriver(ctx(t), '0000:82:08.3')).toBeNull();
    await bindDriver(ctx(t), '0000:82:08.1', 'nfp_netvf', { timeoutMs: 500 });
    expect(await t.fingerprint()).toEqual(before);
  });
});
