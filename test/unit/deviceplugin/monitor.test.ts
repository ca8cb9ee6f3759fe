import { describe, expect, it } from 'vitest';
import type { SnapshotSource } from '../../../src/deviceplugin/inventory.js';
import type { NodeSnapshot } from '../../../src/deviceplugin/model.js';
import { NodeMonitor } from '../../../src/deviceplugin/monitor.js';
import { pf, vf } from '../../helpers/deviceplugin-devices.js';

class Source implements SnapshotSource {
  calls: string[] = [];
  needFull = false;
  constructor(public snap: NodeSnapshot) {}
  async full() {
    this.calls.push('full');
    return structuredClone(this.snap);
  }
  async refresh(_prev: NodeSnapshot, opts?: { perVf?: boolean }) {
    this.calls.push(opts?.perVf ? 'refresh+vfs' : 'refresh');
    return this.needFull ? null : structuredClone(this.snap);
  }
  hintDirs() {
    return [];
  }
}

const snap = (): NodeSnapshot => ({
  pfs: [pf({ pci: '0000:03:00.0' })],
  devices: [vf({ pci: '0000:03:00.2' })],
});

describe('NIC monitor', () => {
  it('reads in full at start, then cheaply; tells listeners only about changes', async () => {
    const src = new Source(snap());
    const m = new NodeMonitor(src, { intervalMs: 60_000 });
    const seen: NodeSnapshot[] = [];
    await m.start();
    m.subscribe((s) => seen.push(s));
    await m.settle();
    expect(seen).toEqual([]);
    src.snap.pfs[0]!.linkUp = false;
    await m.settle();
    expect(seen).toHaveLength(1);
    expect(m.snapshot().pfs[0]!.linkUp).toBe(false);
    expect(src.calls).toEqual(['full', 'refresh+vfs', 'refresh+vfs']);
    await m.stop();
  });

  it('falls back to a full read when the source says the structure moved', async () => {
    const src = new Source(snap());
    const m = new NodeMonitor(src, { intervalMs: 60_000 });
    await m.start();
    src.needFull = true;
    src.snap.devices.push(vf({ pci: '0000:03:00.3', vfIndex: 1 }));
    await m.settle();
    expect(src.calls).toEqual(['full', 'refresh+vfs', 'full']);
    expect(m.snapshot().devices).toHaveLength(2);
    await m.stop();
  });

  it('a failing read is retried as a full read, keeping the last good snapshot meanwhile', async () => {
    const src = new Source(snap());
    const m = new NodeMonitor(src, { intervalMs: 60_000 });
    await m.start();
    let fail = true;
    src.refresh = async () => {
      src.calls.push('refresh');
      if (fail) throw new Error('ENOENT mid-read');
      return structuredClone(src.snap);
    };
    await m.settle();
    expect(m.snapshot().devices).toHaveLength(1);
    fail = false;
    await m.settle();
    expect(src.calls).toEqual(['full', 'refresh', 'full']);
    await m.stop();
  });

  it('its own polls leave per-VF state alone; a poke or a settle asks for it', async () => {
    const src = new Source(snap());
    const m = new NodeMonitor(src, { intervalMs: 10 });
    await m.start();
    await new Promise((r) => setTimeout(r, 60));
    const polls = src.calls.slice(1);
    expect(polls.length).toBeGreaterThan(1);
    expect(polls.every((c) => c === 'refresh')).toBe(true);
    src.calls = [];
    m.poke();
    await m.settle();
    expect(src.calls.slice(0, 1)).toEqual(['refresh+vfs']);
    await m.stop();
  });

  it('polls on its own (unref timer) and stops polling after stop()', async () => {
    const src = new Source(snap());
    const m = new NodeMonitor(src, { intervalMs: 10 });
    await m.start();
    await new Promise((r) => setTimeout(r, 80));
    await m.stop();
    const n = src.calls.length;
    expect(n).toBeGreaterThan(2);
    await new Promise((r) => setTimeout(r, 50));
    expect(src.calls.length).toBe(n);
  });
});
