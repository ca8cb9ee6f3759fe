import { OvsdbProtocolError } from '../errors.js';

/**
 * OVSDB's JSON value notation (RFC 7047 §5.1). Sets and maps are tagged arrays, and a set of
 * exactly one element may arrive as the bare atom: decode through the helpers below, never
 * by looking at the JSON shape directly.
 */
export type Uuid = ['uuid', string];
export type NamedUuid = ['named-uuid', string];
export type Atom = string | number | boolean | Uuid | NamedUuid;
export type OvsdbSet = ['set', Atom[]];
export type OvsdbMap = ['map', [Atom, Atom][]];
export type Value = Atom | OvsdbSet | OvsdbMap;
export type Row = Record<string, Value>;

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function isUuidString(s: string): boolean {
  return UUID_RE.test(s);
}

export function uuid(id: string): Uuid {
  if (!isUuidString(id)) throw new TypeError(`not a UUID: ${JSON.stringify(id)}`);
  return ['uuid', id];
}

/** A reference to a row inserted earlier in the same transaction under this uuid-name. */
export function namedUuid(name: string): NamedUuid {
  if (!UUID_NAME_RE.test(name))
    throw new TypeError(`not a valid uuid-name: ${JSON.stringify(name)}`);
  return ['named-uuid', name];
}

export function set(atoms: readonly Atom[]): OvsdbSet {
  return ['set', [...atoms]];
}

export const emptySet = (): OvsdbSet => ['set', []];

/** A string→string map (external_ids, other_config, options), keys sorted for stable output. */
export function map(entries: Readonly<Record<string, string>>): OvsdbMap {
  return [
    'map',
    Object.keys(entries)
      .sort()
      .map((k): [Atom, Atom] => [k, entries[k] ?? '']),
  ];
}

export function isUuid(v: unknown): v is Uuid {
  return Array.isArray(v) && v.length === 2 && v[0] === 'uuid' && typeof v[1] === 'string';
}

function isTagged(v: unknown, tag: string): v is [string, unknown[]] {
  return Array.isArray(v) && v.length === 2 && v[0] === tag && Array.isArray(v[1]);
}

function bad(what: string, v: unknown): OvsdbProtocolError {
  const text = JSON.stringify(v) ?? String(v);
  return new OvsdbProtocolError(
    `decode ovsdb value: expected ${what}, got ${text.length > 60 ? `${text.slice(0, 60)}…` : text}`,
  );
}

/** The elements of a set column (a bare atom is a one-element set). */
export function setElements(v: Value | undefined): Atom[] {
  if (v === undefined) return [];
  if (isTagged(v, 'set')) return v[1] as Atom[];
  if (isTagged(v, 'map')) throw bad('a set', v);
  return [v];
}

/** An optional column (min 0, max 1): its value or null when empty. */
export function optional(v: Value | undefined): Atom | null {
  const els = setElements(v);
  if (els.length > 1) throw bad('at most one element', v);
  return els[0] ?? null;
}

export function optionalInteger(v: Value | undefined): number | null {
  const a = optional(v);
  if (a === null) return null;
  if (typeof a !== 'number' || !Number.isInteger(a)) throw bad('an integer', v);
  return a;
}

export function optionalString(v: Value | undefined): string | null {
  const a = optional(v);
  if (a === null) return null;
  if (typeof a !== 'string') throw bad('a string', v);
  return a;
}

/** A scalar string column; a missing column reads as its default "". */
export function stringValue(v: Value | undefined): string {
  if (v === undefined) return '';
  if (typeof v !== 'string') throw bad('a string', v);
  return v;
}

export function integerValue(v: Value | undefined): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw bad('an integer', v);
  return v;
}

/** The UUID strings of a set-of-references column. */
export function uuidSet(v: Value | undefined): string[] {
  return setElements(v).map((a) => {
    if (!isUuid(a)) throw bad('a uuid', a);
    return a[1];
  });
}

export function uuidValue(v: Value | undefined): string {
  if (!isUuid(v)) throw bad('a uuid', v);
  return v[1];
}

/** A string→string map column as a plain object (missing column: empty). */
export function stringMap(v: Value | undefined): Record<string, string> {
  if (v === undefined) return {};
  if (!isTagged(v, 'map')) throw bad('a map', v);
  const out: Record<string, string> = {};
  for (const pair of v[1]) {
    if (!Array.isArray(pair) || pair.length !== 2) throw bad('a [key, value] pair', pair);
    const [k, val] = pair as [unknown, unknown];
    if (typeof k !== 'string' || typeof val !== 'string') throw bad('string keys and values', pair);
    out[k] = val;
  }
  return out;
}

/** RFC 7047 <id>: what a uuid-name must look like. */
export const UUID_NAME_RE = /^[_a-zA-Z][_a-zA-Z0-9]*$/;

/**
 * A valid uuid-name from any hint (a port name like "pod-a.ns" or "0vf1"): every other
 * character becomes "_" and a leading digit (or an empty hint) gets a "_" prefix.
 */
export function sanitizeUuidName(hint: string): string {
  const s = hint.replace(/[^_a-zA-Z0-9]/g, '_');
  return /^[_a-zA-Z]/.test(s) ? s : `_${s}`;
}

/**
 * Hands out uuid-names unique within one transaction: sanitising folds distinct hints
 * ("a-b", "a.b") onto one name, and a clash would silently make two rows one.
 */
export class UuidNamer {
  private readonly used = new Set<string>();

  name(hint: string): string {
    const base = sanitizeUuidName(hint);
    let n = base;
    for (let i = 2; this.used.has(n); i++) n = `${base}_${i}`;
    this.used.add(n);
    return n;
  }
}
