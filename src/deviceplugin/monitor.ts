import { errorMessage, files as defaultFiles, type Files, type Logger } from '../sys/index.js';
import type { NodeSnapshot } from './model.js';
import type { SnapshotSource } from './inventory.js';
import { WatchLoop } from './watch-loop.js';

/**
 * Keeps a current NodeSnapshot. sysfs attributes (operstate, carrier) raise no inotify events,
 * so the truth comes from a cheap periodic re-read; inotify on the PF directories is only a
 * hint that brings the next re-read forward. The periodic re-read costs the same at 8 VFs as
 * at 512: per-PF attributes plus one list of the host's netdevs; the per-VF state is re-read
 * only when that list changed, on a hint or a poke. A full inventory read (devlink included)
 * happens at start, when the structure moved, and as a slow backstop.
 */

export interface MonitorOptions {
  /** Live-state re-read period (default 250 ms: a link change reaches the kubelet well within 1 s). */
  intervalMs?: number;
  /**
   * Full inventory re-read period, for what no cheap read shows (default 5 min). Everything
   * health depends on moves the cheap read's view (an eswitch mode change re-creates the
   * representors under the PF), so this is only a backstop; a full read costs a devlink run
   * and ~20 sysfs reads per VF, which every 30 s was most of an idle agent's CPU at 32 VFs.
   */
  fullEveryMs?: number;
  files?: Files;
  logger?: Logger;
}

type Listener = (snap: NodeSnapshot) => void;

export class NodeMonitor {
  private snap: NodeSnapshot = { pfs: [], devices: [] };
  private readonly listeners = new Set<Listener>();
  private readonly loop: WatchLoop;
  private needFull = false;
  private needPerVf = false;
  private lastFull = 0;
  private readonly fullEveryMs: number;

  constructor(
    private readonly source: SnapshotSource,
    opts: MonitorOptions = {},
  ) {
    this.fullEveryMs = opts.fullEveryMs ?? 300_000;
    this.loop = new WatchLoop({
      step: () => this.tick(),
      onError: (err) => {
        // A read racing a VF removal can fail half-way: the next tick reads it all again.
        this.needFull = true;
        opts.logger?.warn({ err: errorMessage(err) }, 'device plugin: re-reading the NIC failed');
      },
      intervalMs: opts.intervalMs ?? 250,
      hintDelayMs: 20,
      files: opts.files ?? defaultFiles,
      onHint: () => {
        this.needPerVf = true;
      },
    });
  }

  snapshot(): NodeSnapshot {
    return this.snap;
  }

  /** Calls fn after every re-read that changed something (not on unchanged polls). */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async start(): Promise<void> {
    this.snap = await this.source.full();
    this.lastFull = Date.now();
    this.loop.watch(this.source.hintDirs(this.snap));
    this.loop.start();
  }

  /** Re-read now (coalesced with a re-read in progress). */
  poke(full = false): void {
    if (full) this.needFull = true;
    this.needPerVf = true;
    this.loop.trigger();
  }

  /** Resolves once a re-read that started after this call has finished. */
  async settle(): Promise<void> {
    // Whoever waits for a re-read wants everything current, per-VF state included.
    this.needPerVf = true;
    await this.loop.settle();
  }

  private async tick(): Promise<void> {
    let next: NodeSnapshot | null = null;
    if (!this.needFull && Date.now() - this.lastFull < this.fullEveryMs) {
      const perVf = this.needPerVf;
      this.needPerVf = false;
      try {
        next = await this.source.refresh(this.snap, { perVf });
      } catch (err) {
        this.needPerVf ||= perVf;
        throw err;
      }
    }
    if (next === null) {
      this.needFull = false;
      this.needPerVf = false;
      next = await this.source.full();
      this.lastFull = Date.now();
    }
    if (this.loop.stopped) return;
    // Devices carried over unchanged (the same array): only the PFs can differ, and comparing
    // 512 devices as JSON four times a second would be most of the idle cost.
    const changed =
      next.devices === this.snap.devices
        ? JSON.stringify(next.pfs) !== JSON.stringify(this.snap.pfs)
        : JSON.stringify(next) !== JSON.stringify(this.snap);
    this.snap = next;
    if (changed) {
      this.loop.watch(this.source.hintDirs(this.snap));
      for (const fn of this.listeners) fn(next);
    }
  }

  async stop(): Promise<void> {
    this.listeners.clear();
    await this.loop.stop();
  }
}
