import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StateStore, type AttachmentState } from '../../../src/agent/state.js';
import { createLogger } from '../../../src/sys/index.js';

const logger = createLogger('test', 'silent');
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function store(): Promise<StateStore> {
  const dir = await mkdtemp(path.join(tmpdir(), 'state-'));
  dirs.push(dir);
  const s = new StateStore(dir, logger);
  await s.init();
  return s;
}

function state(containerID: string, ifName = 'net1'): AttachmentState {
  return {
    version: 1,
    containerID,
    ifName,
    network: 'n',
    netns: '/run/netns/p',
    mode: 'offload',
    pod: { name: 'p', namespace: 'default' },
    vf: {
      pci: '0000:03:00.2',
      pfPci: '0000:03:00.0',
      pfNetdev: 'p0',
      vfIndex: 0,
      originalName: 'vf0',
      originalMac: null,
      originalMtu: null,
      driver: 'mlx5_core',
    },
    representor: 'p0_0',
    bridge: 'br-int',
    ifaceId: 'p.default',
    knobsBefore: null,
    ipam: null,
    addCompleted: false,
    createdAt: new Date(0).toISOString(),
    result: null,
  };
}

describe('StateStore', () => {
  it('keeps a 1,024-byte container ID under a bounded, hashed file name with the full ID inside', async () => {
    const s = await store();
    const long = 'a'.repeat(1024);
    await s.write(state(long));
    const names = await readdir(s.dir);
    expect(names).toHaveLength(1);
    expect(names[0]!.length).toBeLessThan(100);
    expect((await s.read(long, 'net1'))?.containerID).toBe(long);
    expect((await s.list()).map((x) => x.containerID)).toEqual([long]);
    await s.remove(long, 'net1');
    expect(await readdir(s.dir)).toEqual([]);
  });

  it('short IDs keep the readable <containerID>-<ifName>.json name', async () => {
    const s = await store();
    await s.write(state('abc123'));
    expect(await readdir(s.dir)).toEqual(['abc123-net1.json']);
  });

  it('removes temporary files a crash left mid-rename at start, and nothing else', async () => {
    const s = await store();
    await s.write(state('keep'));
    await writeFile(path.join(s.dir, 'x-net1.json.tmp-123-abcdef'), '{');
    await new StateStore(s.dir, logger).init();
    expect(await readdir(s.dir)).toEqual(['keep-net1.json']);
  });

  it('refuses IDs that could leave the directory', async () => {
    const s = await store();
    expect(() => s.file('../x', 'net1')).toThrow();
    expect(() => s.file('x', '../a')).toThrow();
    expect(() => s.file('x', '..')).toThrow();
  });
});
