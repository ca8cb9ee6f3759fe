import { OvsdbProtocolError } from '../errors.js';
import type { Condition } from './operations.js';
import {
  tableUpdates2Schema,
  tableUpdatesSchema,
  type TableUpdates,
  type TableUpdates2,
} from './schemas.js';

export type { TableUpdates, TableUpdates2 } from './schemas.js';

/** What to monitor in one table (RFC 7047 §4.1.5; `where` only with monitor_cond). */
export interface MonitorTableRequest {
  /** Columns to report (default: all). */
  columns?: string[];
  /** Only rows matching every condition (monitor_cond only; default: all rows). */
  where?: Condition[];
  select?: { initial?: boolean; insert?: boolean; delete?: boolean; modify?: boolean };
}

/**
 * A monitor's view of the database. `initial: true` carries the complete current contents of
 * the monitored tables: a consumer must replace what it holds, not merge (after a reconnect,
 * rows deleted while we were away are simply absent). Otherwise it is an incremental change.
 * `version` 1 comes from `monitor` (full new rows); 2 from `monitor_cond` (modify = diffs).
 */
export type MonitorEvent =
  | { version: 1; initial: boolean; updates: TableUpdates }
  | { version: 2; initial: boolean; updates: TableUpdates2 };

export interface MonitorRequest {
  db: string;
  tables: Record<string, MonitorTableRequest>;
  /** Called synchronously, in wire order, for the initial state and every update. */
  onEvent(event: MonitorEvent): void;
  /** The monitor could not be re-established after a reconnect and is gone. */
  onError?(err: Error): void;
}

/** A live monitor; it survives reconnects until closed. */
export interface Monitor {
  readonly id: string;
  readonly db: string;
  /** Cancels it on the server (monitor_cancel) and stops delivering events. */
  close(): Promise<void>;
}

export function monitorParams(
  version: 1 | 2,
  req: MonitorRequest,
  id: string,
): [string, string, Record<string, unknown[]>] {
  const tables: Record<string, unknown[]> = {};
  for (const [table, t] of Object.entries(req.tables)) {
    if (version === 1 && t.where) {
      throw new TypeError(`monitor ${req.db}.${table}: "where" needs monitor_cond`);
    }
    tables[table] = [
      {
        ...(t.columns ? { columns: t.columns } : {}),
        ...(t.where ? { where: t.where } : {}),
        ...(t.select ? { select: t.select } : {}),
      },
    ];
  }
  return [req.db, id, tables];
}

export function parseUpdates(version: 1 | 2, initial: boolean, raw: unknown): MonitorEvent {
  const schema = version === 1 ? tableUpdatesSchema : tableUpdates2Schema;
  const r = schema.safeParse(raw ?? {});
  if (!r.success) {
    throw new OvsdbProtocolError(
      `read ovsdb ${version === 1 ? 'update' : 'update2'}: malformed table updates: ${r.error.message}`,
    );
  }
  return version === 1
    ? { version, initial, updates: r.data as TableUpdates }
    : { version, initial, updates: r.data as TableUpdates2 };
}
