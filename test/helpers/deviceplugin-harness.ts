import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach } from 'vitest';
import { parseResourceList } from '../../src/deviceplugin/config.js';
import type { SnapshotSource } from '../../src/deviceplugin/inventory.js';
import {
  DevicePluginManager,
  type DevicePluginManagerOptions,
} from '../../src/deviceplugin/manager.js';
import type { NodeSnapshot } from '../../src/deviceplugin/model.js';
import { SysFs } from '../../src/sys/index.js';
import { RecordingRunner } from './recording-runner.js';
import { FakeKubelet, type KubeletMode } from './fake-kubelet.js';

/** A NIC whose state the test sets directly (the device plugin reads it through the source API). */
export class StaticSource implements SnapshotSource {
  fullReads = 0;
  constructor(public snap: NodeSnapshot) {}
  async full(): Promise<NodeSnapshot> {
    this.fullReads++;
    return structuredClone(this.snap);
  }
  async refresh(): Promise<NodeSnapshot | null> {
    return structuredClone(this.snap);
  }
  hintDirs(): string[] {
    return [];
  }
}

interface Running {
  manager: DevicePluginManager;
  kubelet: FakeKubelet;
  kubeletDir: string;
  devinfoDir: string;
}

const live: { manager: DevicePluginManager; kubelets: FakeKubelet[]; dir: string }[] = [];

afterEach(async () => {
  for (const r of live.splice(0)) {
    await r.manager.stop();
    for (const k of r.kubelets) await k.stop();
    rmSync(r.dir, { recursive: true, force: true });
  }
});

/** A device plugin manager on a static NIC, registered with a fake kubelet in a temp dir. */
export async function startWithKubelet(opts: {
  mode: KubeletMode;
  resourceList: unknown[];
  source: SnapshotSource;
  refuse?: number;
  manager?: Partial<DevicePluginManagerOptions>;
}): Promise<Running & { track(k: FakeKubelet): FakeKubelet }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'oo-dp-'));
  const kubeletDir = path.join(dir, 'kubelet');
  const devinfoDir = path.join(dir, 'devinfo');
  const kubelet = await FakeKubelet.start({
    kubeletDir,
    mode: opts.mode,
    ...(opts.refuse === undefined ? {} : { refuse: opts.refuse }),
  });
  const manager = new DevicePluginManager({
    resources: parseResourceList(opts.resourceList).resources,
    kubeletDir,
    devinfoDir,
    sysfs: new SysFs(dir),
    runner: new RecordingRunner(),
    source: opts.source,
    pollIntervalMs: 50,
    kubeletPollMs: 100,
    registrationBackoff: { initialMs: 100, maxMs: 400, jitter: 0 },
    ...opts.manager,
  });
  const entry = { manager, kubelets: [kubelet], dir };
  live.push(entry);
  await manager.start();
  return {
    manager,
    kubelet,
    kubeletDir,
    devinfoDir,
    track(k: FakeKubelet) {
      entry.kubelets.push(k);
      return k;
    },
  };
}

/** Polls until fn is truthy (state that settles a moment after the event a test waited for). */
export async function waitUntil(fn: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
