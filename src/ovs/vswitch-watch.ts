import { errorMessage, type Logger } from '../sys/index.js';
import { OvsdbClosedError, OvsdbTimeoutError } from './errors.js';
import {
  columnKinds,
  RowCache,
  stringValue,
  type Monitor,
  type Row,
  type RowChange,
} from './ovsdb/index.js';
import { VSWITCH_DB, type OvsdbTransport } from './vswitch-types.js';

/** The topic of waits on the Open_vSwitch row (interface waits use the interface name). */
const GLOBAL = '\0global';

interface Waiter {
  topic: string;
  /** Returns true when satisfied; throws to fail the wait. */
  check: () => boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * One `monitor_cond` on Interface and Open_vSwitch that every wait shares: ovs-vswitchd's
 * progress (ofport, ovn-controller's ovn-installed, cur_cfg) arrives as update2 pushes, so
 * waiting costs no polling however many ports wait at once. After a reconnect the client
 * re-delivers the full state and the cache is rebuilt from it, so waits stay correct.
 */
export class VswitchWatch {
  /** Empty until the monitor's first (initial) event. */
  private cache = new RowCache([]);
  private readonly ifaceByName = new Map<string, string>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private starting: Promise<void> | undefined;
  private monitor: Monitor | undefined;
  private closed = false;

  constructor(
    private readonly client: OvsdbTransport,
    private readonly logger: Logger,
  ) {}

  /** The Interface row named `name`, as last pushed by the server. */
  iface(name: string): Row | undefined {
    const uuid = this.ifaceByName.get(name);
    return uuid === undefined ? undefined : this.cache.get('Interface', uuid);
  }

  /** The Open_vSwitch row, as last pushed. */
  root(): Row | undefined {
    return this.cache.rows('Open_vSwitch').values().next().value;
  }

  /**
   * Resolves when `check` returns true after the monitor's latest state; rejects when it throws
   * or after timeoutMs (TimeoutError naming `what`).
   */
  async waitFor(
    topic: string | null,
    what: string,
    timeoutMs: number,
    check: () => boolean,
  ): Promise<void> {
    await this.ready();
    if (check()) return;
    const t = topic ?? GLOBAL;
    await new Promise<void>((resolve, reject) => {
      // Not unref'd: the caller awaits this wait, it is work in progress.
      const timer = setTimeout(() => {
        remove();
        reject(new OvsdbTimeoutError(what, timeoutMs));
      }, timeoutMs);
      const remove = () => {
        clearTimeout(timer);
        const set = this.waiters.get(t);
        set?.delete(w);
        if (set?.size === 0) this.waiters.delete(t);
      };
      const w: Waiter = {
        topic: t,
        check,
        resolve: () => {
          remove();
          resolve();
        },
        reject: (err) => {
          remove();
          reject(err);
        },
      };
      let set = this.waiters.get(t);
      if (!set) this.waiters.set(t, (set = new Set()));
      set.add(w);
    });
  }

  /** Starts the monitor once; a failed start is retried by the next caller. */
  ready(): Promise<void> {
    if (this.closed) return Promise.reject(new OvsdbClosedError('watch Open_vSwitch: closed'));
    this.starting ??= this.start().catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  async close(): Promise<void> {
    this.closed = true;
    const err = new OvsdbClosedError('watch Open_vSwitch: closed');
    for (const set of [...this.waiters.values()]) for (const w of [...set]) w.reject(err);
    const m = this.monitor;
    this.monitor = undefined;
    await m?.close();
  }

  private async start(): Promise<void> {
    const schema = await this.client.getSchema(VSWITCH_DB);
    const cache = new RowCache(['Interface', 'Open_vSwitch'], columnKinds(schema));
    const monitor = await this.client.monitorCond({
      db: VSWITCH_DB,
      tables: {
        Interface: { columns: ['name', 'ofport', 'error', 'external_ids'] },
        Open_vSwitch: { columns: ['cur_cfg'] },
      },
      onEvent: (ev) => {
        const changes = cache.apply(ev);
        this.cache = cache;
        this.onChanges(changes, ev.initial);
      },
      onError: (err) => {
        this.logger.warn(
          { err: errorMessage(err) },
          'vswitch monitor lost; restarting on next wait',
        );
        this.starting = undefined;
        this.monitor = undefined;
      },
    });
    if (this.closed) {
      await monitor.close();
      throw new OvsdbClosedError('watch Open_vSwitch: closed');
    }
    this.monitor = monitor;
  }

  private onChanges(changes: RowChange[], initial: boolean): void {
    const topics = new Set<string>();
    if (initial) this.ifaceByName.clear();
    for (const c of changes) {
      if (c.table === 'Open_vSwitch') {
        topics.add(GLOBAL);
        continue;
      }
      const oldName = c.old ? stringValue(c.old.name) : undefined;
      const newName = c.new ? stringValue(c.new.name) : undefined;
      if (oldName !== undefined && this.ifaceByName.get(oldName) === c.uuid) {
        this.ifaceByName.delete(oldName);
      }
      if (newName !== undefined) this.ifaceByName.set(newName, c.uuid);
      if (oldName !== undefined) topics.add(oldName);
      if (newName !== undefined) topics.add(newName);
    }
    if (initial) {
      // Rebuilt from scratch: rows unchanged by the re-delivery still need indexing.
      for (const [uuid, row] of this.cache.rows('Interface')) {
        this.ifaceByName.set(stringValue(row.name), uuid);
      }
    }
    const targets = initial ? [...this.waiters.keys()] : [...topics];
    for (const t of targets) {
      for (const w of [...(this.waiters.get(t) ?? [])]) {
        try {
          if (w.check()) w.resolve();
        } catch (err) {
          w.reject(err instanceof Error ? err : new Error(String(err)));
        }
      }
    }
  }
}
