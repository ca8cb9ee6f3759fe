import * as path from 'node:path';
import { errorMessage, files, type Watcher } from '../../sys/index.js';
import { onDriverFile } from './drivers.js';
import type { SerialQueue } from './serial.js';
import type { NicState } from './state.js';
import { syncNow } from './sync.js';
import { returnOrphanedVfs } from './pod-return.js';
import { onNumVfsWrite } from './vfs.js';

/**
 * What makes the emulator react: inotify on the files the kernel would act on a write to
 * (each PF's sriov_numvfs, the drivers' bind/unbind, drivers_probe), a slow poll behind it,
 * and `ip monitor link` in the host netns to keep the tree's `net/` entries true. Every
 * reaction runs in the serial queue.
 */
export class Watching {
  private watchers: Watcher[] = [];
  private monitor: { kill(): void } | null = null;
  private syncTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly nic: NicState,
    private readonly queue: SerialQueue,
  ) {}

  start(): void {
    const { nic, queue } = this;
    const { tree } = nic;
    for (const pf of nic.pfs) {
      const dir = path.join(tree.sys, tree.devRel(pf.pci));
      this.watchers.push(
        files.watch(dir, (f) => {
          if (f === null || f === 'sriov_numvfs')
            void queue.run(() => onNumVfsWrite(nic, pf)).catch(logErr);
        }),
      );
    }
    const drivers = new Set([nic.identity.pfDriver, nic.identity.vfDriver, 'vfio-pci']);
    for (const drv of drivers) {
      const dir = path.join(tree.sys, `bus/pci/drivers/${drv}`);
      this.watchers.push(
        files.watch(dir, (f) => {
          if (f === 'bind' || f === 'unbind' || f === null) {
            void queue
              .run(async () => {
                await onDriverFile(nic, drv, 'unbind');
                await onDriverFile(nic, drv, 'bind');
              })
              .catch(logErr);
          }
        }),
      );
    }
    this.watchers.push(
      files.watch(path.join(tree.sys, 'bus/pci'), (f) => {
        if (f === 'drivers_probe')
          void queue.run(() => onDriverFile(nic, '', 'probe')).catch(logErr);
      }),
    );
    // inotify events can coalesce or be missed: a slow poll catches what they miss.
    this.pollTimer = setInterval(() => {
      void queue
        .run(async () => {
          for (const pf of nic.pfs) await onNumVfsWrite(nic, pf);
          for (const drv of drivers) {
            await onDriverFile(nic, drv, 'unbind');
            await onDriverFile(nic, drv, 'bind');
          }
          await onDriverFile(nic, '', 'probe');
          await returnOrphanedVfs(nic);
        })
        .catch(logErr);
    }, 250);
    this.monitor = nic.runner.stream(nic.ip.argv(nic.host, ['-o', 'monitor', 'link']), () =>
      this.scheduleSync(),
    );
  }

  /** One tree sync shortly after a burst of link events, not one per event. */
  private scheduleSync(): void {
    if (this.closed || this.syncTimer) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      void this.queue
        // A partner end deleted with a netns the sandbox never named: the VF comes home.
        .run(async () => {
          await returnOrphanedVfs(this.nic);
          await syncNow(this.nic);
        })
        .catch((err: unknown) => console.error(`sync: ${errorMessage(err)}`));
    }, 15);
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.monitor?.kill();
  }
}

function logErr(err: unknown): void {
  console.error(`nic emulator: ${errorMessage(err)}`);
}
