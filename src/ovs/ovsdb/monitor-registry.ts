import { errorMessage, type Logger } from '../../sys/index.js';
import { OvsdbError, OvsdbProtocolError } from '../errors.js';
import type { RpcConnection } from './connection.js';
import {
  monitorParams,
  parseUpdates,
  type Monitor,
  type MonitorEvent,
  type MonitorRequest,
} from './monitor.js';

interface MonitorEntry {
  id: string;
  version: 1 | 2;
  req: MonitorRequest;
  /** The server accepted it at least once (only active monitors are re-sent). */
  active: boolean;
}

/** How the registry talks through its client: a call whose reply is seen synchronously. */
export type MonitorCall = (
  method: string,
  params: unknown[],
  opts?: { timeoutMs?: number; signal?: AbortSignal },
  onResult?: (result: unknown) => void,
) => Promise<unknown>;

/**
 * The client's live monitors: started once, re-sent on every new connection, fed from
 * `update`/`update2` notifications. Replies and updates are handled synchronously in wire
 * order, so no update can overtake the initial state it applies to.
 */
export class MonitorRegistry {
  private readonly entries = new Map<string, MonitorEntry>();
  private seq = 0;

  constructor(
    private readonly call: MonitorCall,
    private readonly isConnected: () => boolean,
    private readonly logger: Logger,
  ) {}

  async start(
    version: 1 | 2,
    req: MonitorRequest,
    opts?: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<Monitor> {
    const id = `m${++this.seq}`;
    const entry: MonitorEntry = { id, version, req, active: false };
    const params = monitorParams(version, req, id);
    // Registered before the request leaves: updates may follow the reply in the same chunk.
    this.entries.set(id, entry);
    try {
      await this.call(methodOf(version), params, opts, (result) => {
        entry.active = true;
        req.onEvent(parseUpdates(version, true, result));
      });
    } catch (err) {
      this.entries.delete(id);
      throw err;
    }
    return { id, db: req.db, close: () => this.cancel(id) };
  }

  /** Re-establishes every active monitor on a fresh connection (before anything else is sent). */
  resendAll(conn: RpcConnection): void {
    for (const entry of this.entries.values()) if (entry.active) this.resend(entry, conn);
  }

  /** Routes an update notification; throws OvsdbProtocolError to drop the connection. */
  dispatch(method: string, params: unknown[]): void {
    if (method !== 'update' && method !== 'update2') {
      this.logger.debug({ method }, 'ovsdb notification ignored');
      return;
    }
    const entry = this.entries.get(String(params[0]));
    if (!entry?.active) return;
    const version = method === 'update' ? 1 : 2;
    if (version !== entry.version) {
      throw new OvsdbProtocolError(
        `read ovsdb ${method}: monitor ${entry.id} is version ${entry.version}`,
      );
    }
    // A malformed update throws here and drops the connection: the monitor is then re-sent
    // and its consumer gets a fresh initial state instead of a cache we know is wrong. A
    // consumer that finds the stream inconsistent (a diff for a row it never saw) throws
    // OvsdbProtocolError to the same effect.
    const event: MonitorEvent = parseUpdates(version, false, params[1]);
    try {
      entry.req.onEvent(event);
    } catch (err) {
      if (err instanceof OvsdbProtocolError) throw err;
      this.logger.warn({ monitor: entry.id, err: errorMessage(err) }, 'monitor consumer failed');
    }
  }

  clear(): void {
    this.entries.clear();
  }

  private async cancel(id: string): Promise<void> {
    if (!this.entries.delete(id) || !this.isConnected()) return;
    try {
      await this.call('monitor_cancel', [id]);
    } catch (err) {
      // Gone with the connection, or already unknown to the server: either way it is over.
      this.logger.debug({ monitor: id, err: errorMessage(err) }, 'monitor_cancel failed');
    }
  }

  private resend(entry: MonitorEntry, conn: RpcConnection): void {
    conn.send(methodOf(entry.version), monitorParams(entry.version, entry.req, entry.id), {
      resolve: (result) => {
        if (this.entries.get(entry.id) !== entry) return;
        try {
          entry.req.onEvent(parseUpdates(entry.version, true, result));
        } catch (err) {
          if (err instanceof OvsdbProtocolError) conn.destroy(err);
          else
            this.logger.warn(
              { monitor: entry.id, err: errorMessage(err) },
              'monitor consumer failed',
            );
        }
      },
      reject: (err) => {
        // A lost connection re-sends on the next one; a refusal ends the monitor.
        if (err instanceof OvsdbError && this.entries.delete(entry.id)) {
          this.logger.warn({ monitor: entry.id, err: err.message }, 'monitor not re-established');
          entry.req.onError?.(err);
        }
      },
    });
  }
}

function methodOf(version: 1 | 2): string {
  return version === 1 ? 'monitor' : 'monitor_cond';
}
