import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CHECKPOINT_FILE,
  KubeletCheckpoint,
  parseCheckpoint,
  type InUseDevices,
} from '../../../src/deviceplugin/checkpoint.js';
import { InvalidInputError, files } from '../../../src/sys/index.js';

function checkpointText(entries: { ResourceName: string; DeviceIDs: unknown }[]): string {
  return JSON.stringify({
    Data: { PodDeviceEntries: entries, RegisteredDevices: {} },
    Checksum: 1,
  });
}

function plain(m: InUseDevices): Record<string, string[]> {
  return Object.fromEntries([...m].map(([k, v]) => [k, [...v].sort()]));
}

describe('kubelet device manager checkpoint', () => {
  it('reads DeviceIDs in both the per-NUMA map form (1.20+) and the old list form', () => {
    const text = JSON.stringify({
      Data: {
        PodDeviceEntries: [
          {
            PodUID: 'a',
            ContainerName: 'c',
            ResourceName: 'intel.com/x',
            DeviceIDs: { '0': ['0000:03:00.2'], '1': ['0000:81:00.2'] },
            AllocResp: 'e30=',
          },
          {
            PodUID: 'b',
            ContainerName: 'c',
            ResourceName: 'intel.com/x',
            DeviceIDs: ['0000:03:00.3'],
            AllocResp: '',
          },
          {
            PodUID: 'c',
            ContainerName: 'c',
            ResourceName: 'nvidia.com/gpu',
            DeviceIDs: null,
            AllocResp: '',
          },
        ],
        RegisteredDevices: { 'intel.com/x': ['0000:03:00.2'] },
      },
      Checksum: 12345,
    });
    const m = parseCheckpoint(text);
    expect([...m.get('intel.com/x')!].sort()).toEqual([
      '0000:03:00.2',
      '0000:03:00.3',
      '0000:81:00.2',
    ]);
    expect([...m.get('nvidia.com/gpu')!]).toEqual([]);
  });

  it('a checkpoint without entries means nothing allocated', () => {
    expect(parseCheckpoint('{"Data": {}}').size).toBe(0);
  });

  it.each([
    ['not json', '{'],
    ['another shape', '{"Data": 3}'],
  ])('%s is an error, not "nothing allocated"', (_n, text) => {
    expect(() => parseCheckpoint(text)).toThrow(InvalidInputError);
  });
});

describe('KubeletCheckpoint', () => {
  let dir: string;
  let file: string;
  let logs: { level: number; msg: string; path?: string; err?: string }[];
  let checkpoint: KubeletCheckpoint;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ovs-offload-checkpoint-'));
    mkdirSync(path.join(dir, 'device-plugins'));
    file = path.join(dir, 'device-plugins', CHECKPOINT_FILE);
    logs = [];
    const logger = pino(
      { level: 'debug' },
      { write: (line: string) => void logs.push(JSON.parse(line) as (typeof logs)[number]) },
    );
    checkpoint = new KubeletCheckpoint({ files, kubeletDir: dir, logger });
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const good = checkpointText([{ ResourceName: 'intel.com/x', DeviceIDs: ['0000:03:00.2'] }]);
  const warnings = () => logs.filter((l) => l.level === 40);

  it('a missing file at first start means nothing allocated, and is not worth a warning', async () => {
    expect((await checkpoint.read()).size).toBe(0);
    expect(warnings()).toEqual([]);
  });

  it('reads what the kubelet allocated', async () => {
    writeFileSync(file, good);
    expect(plain(await checkpoint.read())).toEqual({ 'intel.com/x': ['0000:03:00.2'] });
    expect(warnings()).toEqual([]);
  });

  it('corrupt JSON after a good read: warns with the path and keeps the previous allocations', async () => {
    writeFileSync(file, good);
    await checkpoint.read();
    writeFileSync(file, '{"Data": {"PodDeviceEntries": [');
    expect(plain(await checkpoint.read())).toEqual({ 'intel.com/x': ['0000:03:00.2'] });
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]?.path).toBe(file);
    expect(warnings()[0]?.err).toMatch(/not JSON/);
  });

  it('an unreadable file after a good read: warns with the path and keeps the previous allocations', async () => {
    writeFileSync(file, good);
    await checkpoint.read();
    // A directory in its place: reading fails with EISDIR (root ignores file modes).
    rmSync(file);
    mkdirSync(file);
    expect(plain(await checkpoint.read())).toEqual({ 'intel.com/x': ['0000:03:00.2'] });
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]?.path).toBe(file);
    expect(warnings()[0]?.err).toMatch(/EISDIR/);
  });

  it('a corrupt file at first start: warns and knows nothing', async () => {
    writeFileSync(file, '{"Data": 3}');
    expect((await checkpoint.read()).size).toBe(0);
    expect(warnings()).toHaveLength(1);
  });

  it('a good read after a bad one replaces the allocations', async () => {
    writeFileSync(file, good);
    await checkpoint.read();
    writeFileSync(file, '{');
    await checkpoint.read();
    writeFileSync(file, checkpointText([{ ResourceName: 'intel.com/y', DeviceIDs: ['a'] }]));
    expect(plain(await checkpoint.read())).toEqual({ 'intel.com/y': ['a'] });
  });
});
