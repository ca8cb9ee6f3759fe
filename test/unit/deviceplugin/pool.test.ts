import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseResourceList } from '../../../src/deviceplugin/config.js';
import { Pool } from '../../../src/deviceplugin/pool.js';
import type { ListAndWatchResponse } from '../../../src/deviceplugin/proto.js';
import { files, InvalidInputError, silentLogger } from '../../../src/sys/index.js';
import { pf, vf } from '../../helpers/deviceplugin-devices.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function newPool() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'oo-dp-pool-'));
  dirs.push(dir);
  const [resource] = parseResourceList([{ resourceName: 'vf', selectors: {} }]).resources;
  const pool = new Pool(resource!, {
    devinfoDir: path.join(dir, 'devinfo'),
    files,
    logger: silentLogger(),
  });
  const members = [
    { device: vf({ pci: '0000:03:00.2' }), selectorIndex: 0 },
    { device: vf({ pci: '0000:03:00.3', vfIndex: 1, netdev: null }), selectorIndex: 0 },
  ];
  const pfs = new Map([['0000:03:00.0', pf({ pci: '0000:03:00.0' })]]);
  pool.update(members, pfs);
  return { pool, members, pfs, devinfoDir: path.join(dir, 'devinfo') };
}

describe('pool', () => {
  it('sends the list to a new stream at once, and again only when it changes', () => {
    const { pool, members, pfs } = newPool();
    const got: ListAndWatchResponse[] = [];
    pool.watch({ send: (r) => got.push(r) });
    expect(got).toHaveLength(1);
    pool.update(members, pfs);
    expect(got).toHaveLength(1);
    pool.update(members, new Map([['0000:03:00.0', pf({ pci: '0000:03:00.0', linkUp: false })]]));
    expect(got).toHaveLength(2);
    expect(got[1]!.devices.every((d) => d.health === 'Unhealthy')).toBe(true);
  });

  it('Allocate marks devices in use: a VF without host netdev turns Healthy once allocated', async () => {
    const { pool, devinfoDir } = newPool();
    expect(pool.counts()).toEqual({ total: 2, allocated: 0, unhealthy: 1 });
    const got: ListAndWatchResponse[] = [];
    pool.watch({ send: (r) => got.push(r) });
    await pool.allocate([['0000:03:00.3']]);
    expect(pool.counts()).toEqual({ total: 2, allocated: 1, unhealthy: 0 });
    expect(got.at(-1)!.devices.every((d) => d.health === 'Healthy')).toBe(true);
    expect(readdirSync(devinfoDir)).toEqual(['intel.com-vf-0000:03:00.3-device.json']);
    await pool.cleanDevinfo();
    expect(readdirSync(devinfoDir)).toEqual([]);
  });

  it('a device-info file already holding the document is not rewritten; a stale one is', async () => {
    const { pool, devinfoDir } = newPool();
    const file = path.join(devinfoDir, 'intel.com-vf-0000:03:00.2-device.json');
    await pool.allocate([['0000:03:00.2']]);
    const doc = readFileSync(file, 'utf8');
    // Whole seconds: utimes goes through a float, and a millisecond part may not survive it.
    const old = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    utimesSync(file, old, old);
    await pool.allocate([['0000:03:00.2']]);
    expect(Math.round(statSync(file).mtimeMs)).toBe(old.getTime());
    writeFileSync(file, '{"stale":true}');
    await pool.allocate([['0000:03:00.2']]);
    expect(readFileSync(file, 'utf8')).toBe(doc);
  });

  it('an unknown ID fails the whole request before anything is written', async () => {
    const { pool, devinfoDir } = newPool();
    const err = await pool.allocate([['0000:03:00.2'], ['0000:03:00.7']]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(String(err)).toMatch(/unknown device ID "0000:03:00\.7" for resource intel\.com\/vf/);
    expect(readdirSync(path.dirname(devinfoDir))).toEqual([]);
    expect(pool.counts().allocated).toBe(0);
  });

  it('forgets an allocation when the device disappears (VFs re-created by numvfs)', async () => {
    const { pool, members, pfs } = newPool();
    await pool.allocate([['0000:03:00.3']]);
    pool.update([members[0]!], pfs);
    pool.update(members, pfs);
    expect(pool.counts()).toEqual({ total: 2, allocated: 0, unhealthy: 1 });
  });
});
