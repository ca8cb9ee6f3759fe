import { OvsdbProtocolError } from '../errors.js';
import type { MonitorEvent } from './monitor.js';
import type { DatabaseSchema } from './schemas.js';
import { setElements, type Atom, type Row, type Value } from './values.js';

/**
 * How update2 `modify` diffs apply to a column (ovsdb-server's ovsdb_datum_diff): columns
 * that can hold more than one element ("composite", max > 1) carry the symmetric difference;
 * all others, optional ones included, carry the new value.
 */
export interface ColumnKind {
  composite: boolean;
  map: boolean;
}
export type ColumnKinds = Record<string, Record<string, ColumnKind>>;

export function columnKinds(schema: DatabaseSchema): ColumnKinds {
  const out: ColumnKinds = {};
  for (const [table, t] of Object.entries(schema.tables)) {
    const cols: Record<string, ColumnKind> = {};
    for (const [name, c] of Object.entries(t.columns)) {
      const type = c.type;
      if (typeof type === 'string') cols[name] = { composite: false, map: false };
      else {
        const max = type.max ?? 1;
        cols[name] = { composite: max === 'unlimited' || max > 1, map: type.value !== undefined };
      }
    }
    out[table] = cols;
  }
  return out;
}

export interface RowChange {
  table: string;
  uuid: string;
  /** The row before (undefined: inserted). */
  old: Row | undefined;
  /** The row after (undefined: deleted). */
  new: Row | undefined;
}

const key = (a: unknown): string => JSON.stringify(a);

function applySetDiff(old: Value | undefined, diff: Value): Value {
  const els = new Map<string, Atom>(setElements(old).map((a) => [key(a), a]));
  for (const a of setElements(diff)) {
    const k = key(a);
    if (els.has(k)) els.delete(k);
    else els.set(k, a);
  }
  return ['set', [...els.values()]];
}

function mapPairs(v: Value | undefined, what: string): [Atom, Atom][] {
  if (v === undefined) return [];
  if (Array.isArray(v) && v[0] === 'map') return v[1];
  throw new OvsdbProtocolError(`apply ovsdb update2: ${what} is not a map`);
}

function applyMapDiff(old: Value | undefined, diff: Value, column: string): Value {
  const pairs = new Map<string, [Atom, Atom]>(mapPairs(old, column).map((p) => [key(p[0]), p]));
  for (const [k, v] of mapPairs(diff, `the diff of ${column}`)) {
    const kk = key(k);
    const cur = pairs.get(kk);
    // Absent: added. Same value: that pair was removed. Other value: it was changed.
    if (!cur) pairs.set(kk, [k, v]);
    else if (key(cur[1]) === key(v)) pairs.delete(kk);
    else pairs.set(kk, [k, v]);
  }
  return ['map', [...pairs.values()]];
}

/**
 * The rows a monitor sees, kept current from its events. An initial event replaces the
 * monitored tables wholesale, so a re-delivery after a reconnect also drops rows deleted
 * while we were away. Missing columns read as their defaults through the value helpers.
 */
export class RowCache {
  private readonly data = new Map<string, Map<string, Row>>();

  /**
   * @param tables the monitored tables (an initial event clears exactly these)
   * @param kinds column kinds from the schema: required to apply update2 diffs
   */
  constructor(
    tables: readonly string[],
    private readonly kinds?: ColumnKinds,
  ) {
    for (const t of tables) this.data.set(t, new Map());
  }

  rows(table: string): ReadonlyMap<string, Row> {
    return this.data.get(table) ?? new Map<string, Row>();
  }

  get(table: string, uuid: string): Row | undefined {
    return this.data.get(table)?.get(uuid);
  }

  /** Applies one monitor event; returns what changed (an initial event reports the diff). */
  apply(ev: MonitorEvent): RowChange[] {
    const before = ev.initial ? this.snapshotAndClear() : undefined;
    const changes: RowChange[] = [];
    const updates: Record<string, Record<string, unknown>> = ev.updates;
    for (const [table, rows] of Object.entries(updates)) {
      const t = this.tableFor(table);
      for (const [uuid, u] of Object.entries(rows)) {
        const old = before ? before.get(table)?.get(uuid) : t.get(uuid);
        let next: Row | undefined;
        if (ev.version === 1) {
          const upd = u as { old?: Row; new?: Row };
          next = upd.new;
        } else {
          const upd = u as { initial?: Row; insert?: Row; modify?: Row; delete?: null };
          if (upd.initial ?? upd.insert) next = { ...(upd.initial ?? upd.insert) };
          else if (upd.modify) next = this.applyModify(table, uuid, t.get(uuid), upd.modify);
          else next = undefined;
        }
        if (next) t.set(uuid, next);
        else t.delete(uuid);
        if (!before) changes.push({ table, uuid, old, new: next });
      }
    }
    if (before) {
      for (const [table, rows] of before) {
        const now = this.data.get(table) ?? new Map<string, Row>();
        for (const [uuid, old] of rows) {
          const cur = now.get(uuid);
          if (!cur || key(cur) !== key(old)) changes.push({ table, uuid, old, new: cur });
        }
        for (const [uuid, cur] of now)
          if (!rows.has(uuid)) changes.push({ table, uuid, old: undefined, new: cur });
      }
    }
    return changes;
  }

  private tableFor(table: string): Map<string, Row> {
    let t = this.data.get(table);
    if (!t) {
      t = new Map();
      this.data.set(table, t);
    }
    return t;
  }

  private snapshotAndClear(): Map<string, Map<string, Row>> {
    const snap = new Map<string, Map<string, Row>>();
    for (const [table, rows] of this.data) {
      snap.set(table, rows);
      this.data.set(table, new Map());
    }
    return snap;
  }

  private applyModify(table: string, uuid: string, old: Row | undefined, diff: Row): Row {
    if (!old) {
      throw new OvsdbProtocolError(`apply ovsdb update2: modify of unknown row ${table} ${uuid}`);
    }
    const kinds = this.kinds?.[table];
    if (!kinds) {
      throw new OvsdbProtocolError(`apply ovsdb update2: no schema for table ${table}`);
    }
    const next: Row = { ...old };
    for (const [column, d] of Object.entries(diff)) {
      const kind = kinds[column];
      if (!kind)
        throw new OvsdbProtocolError(`apply ovsdb update2: unknown column ${table}.${column}`);
      if (!kind.composite) next[column] = d;
      else if (kind.map) next[column] = applyMapDiff(old[column], d, `${table}.${column}`);
      else next[column] = applySetDiff(old[column], d);
    }
    return next;
  }
}
