import {
  errorMessage,
  files as defaultFiles,
  unrefInterval,
  unrefTimeout,
  type Files,
  type Logger,
  type Watcher,
} from '../sys/index.js';
import type { NodeSnapshot } from './model.js';
import type { SnapshotSource } from './inventory.js';

/**
 * Keeps a current NodeSnapshot. sysfs attributes (operstate, carrier) raise no inotify events,
 * so the truth comes from a cheap periodic re-read; inotify on the PF directories is only a
 * hint that brings the next re-read forward. A full inventory read (devlink included) happens
 * at start, when the structure moved, and as a slow backstop.
 */

export interface MonitorOptions {
  /** Live-state re-read period (default 250 ms: a link change reaches the kubelet well within 1 s). */
  intervalMs?: number;
  /** Full inventory re-read period, for what no cheap read shows (default 30 s). */
  fullEveryMs?: number;
  files?: Files;
  logger?: Logger;
}

type Listener = (snap: NodeSnapshot) => void;

export class NodeMonitor {
  private snap: NodeSnapshot = { pfs: [], devices: [] };
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | undefined;
  private hintTimer: NodeJS.Timeout | undefined;
  private watchers: Watcher[] = [];
  private watched = '';
  private running: Promise<void> | undefined;
  private again = false;
  private needFull = false;
  private lastFull = 0;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly fullEveryMs: number;
  private readonly files: Files;

  constructor(
    private readonly source: SnapshotSource,
    private readonly opts: MonitorOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 250;
    this.fullEveryMs = opts.fullEveryMs ?? 30_000;
    this.files = opts.files ?? defaultFiles;
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
    this.stopped = false;
    this.snap = await this.source.full();
    this.lastFull = Date.now();
    this.rewatch();
    this.timer = unrefInterval(() => this.poke(), this.intervalMs);
  }

  /** Re-read now (coalesced with a re-read in progress). */
  poke(full = false): void {
    if (full) this.needFull = true;
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.tick().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.poke();
      }
    });
  }

  /** Resolves once a re-read that started after this call has finished. */
  async settle(): Promise<void> {
    await this.idle();
    this.poke();
    await this.idle();
  }

  private async idle(): Promise<void> {
    for (let r = this.running; r; r = this.running) await r;
  }

  private async tick(): Promise<void> {
    try {
      let next: NodeSnapshot | null = null;
      if (!this.needFull && Date.now() - this.lastFull < this.fullEveryMs) {
        next = await this.source.refresh(this.snap);
      }
      if (next === null) {
        this.needFull = false;
        next = await this.source.full();
        this.lastFull = Date.now();
      }
      if (this.stopped) return;
      const changed = JSON.stringify(next) !== JSON.stringify(this.snap);
      this.snap = next;
      if (changed) {
        this.rewatch();
        for (const fn of this.listeners) fn(next);
      }
    } catch (err) {
      // A read racing a VF removal can fail half-way: the next tick reads it all again.
      this.needFull = true;
      this.opts.logger?.warn(
        { err: errorMessage(err) },
        'device plugin: re-reading the NIC failed',
      );
    }
  }

  private rewatch(): void {
    const dirs = this.source.hintDirs(this.snap);
    const key = dirs.join('\n');
    if (key === this.watched) return;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    this.watched = key;
    for (const d of dirs) {
      try {
        this.watchers.push(this.files.watch(d, () => this.hint()));
      } catch {
        // A directory that vanished (VFs being removed): the periodic re-read covers it.
      }
    }
  }

  /** Events come in bursts (a numvfs change touches dozens of entries): coalesce them. */
  private hint(): void {
    if (this.hintTimer || this.stopped) return;
    this.hintTimer = unrefTimeout(() => {
      this.hintTimer = undefined;
      this.poke();
    }, 20);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.hintTimer) clearTimeout(this.hintTimer);
    this.timer = undefined;
    this.hintTimer = undefined;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    this.watched = '';
    this.listeners.clear();
    await this.idle();
  }
}
