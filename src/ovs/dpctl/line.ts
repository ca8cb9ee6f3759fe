import {
  CLOSE,
  COLON,
  COMMA,
  CR,
  excerpt,
  HASH,
  isBlank,
  isIdent,
  LF,
  OPEN,
  wordAt,
} from './chars.js';
import { scanKnownFields } from './fastmatch.js';
import { scanActions, scanExtraInfo, scanStats } from './fasttail.js';
import { infoKey, InfoFields, parseAction } from './fields.js';
import { MATCH_FIELDS } from './names.js';
import type { DpAction, DpFlow, FlowLineError } from './types.js';

/** Where the scanner is: before `actions:` (match fields, counters), in the actions, after. */
const MATCH = 0;
const ACTIONS = 1;
const AFTER = 2;

/**
 * Lines that are not flows and carry nothing: `dpif-netdev` prints one of these before each
 * thread's flows (`flow-dump from pmd on cpu core: 9`, `flow-dump from the main thread:`).
 */
const HEADER = 'flow-dump from ';

function fail(line: number, raw: string, message: string): FlowLineError {
  return { line, message, raw };
}

export function isFlowLineError(x: DpFlow | FlowLineError | null): x is FlowLineError {
  return x !== null && 'message' in x;
}

/**
 * Parses one line of `ovs-appctl dpctl/dump-flows` output (any of `-m`, `--names`,
 * `type=…`): a DpFlow, null for a line that is skipped (blank, `#` comment, `flow-dump from`
 * header), or a FlowLineError for anything else.
 *
 * One pass. Items are split at commas outside parentheses, so
 * `set(tunnel(…,key6(bad key length 1, expected 0)(01)geneve(…)…)),2` stays one action and
 * vendor builds that drop the space after a comma (`used:3.990s,offloaded:yes,dp:tc,`)
 * parse like stock OVS. What OVS prints most (known match fields, counters, actions) goes
 * through fast paths first (scanKnownFields, scanStats, scanActions); whatever they leave
 * is scanned character by character.
 */
export function parseFlowLine(text: string, lineNo = 1): DpFlow | FlowLineError | null {
  return parse(text, lineNo, true);
}

/** The same without the fast paths: the reference the tests hold the fast paths to. */
export function parseFlowLineSlowly(text: string, lineNo = 1): DpFlow | FlowLineError | null {
  return parse(text, lineNo, false);
}

function parse(text: string, lineNo: number, fast: boolean): DpFlow | FlowLineError | null {
  let n = text.length;
  while (n > 0) {
    const c = text.charCodeAt(n - 1);
    if (c !== CR && c !== LF) break;
    n--;
  }
  const line = n === text.length ? text : text.slice(0, n);
  let i = 0;
  while (i < n && isBlank(line.charCodeAt(i))) i++;
  if (i === n || line.charCodeAt(i) === HASH || wordAt(line, i, HEADER)) return null;

  const info = new InfoFields();
  const match: Record<string, string> = {};
  const actions: DpAction[] = [];
  let phase: number = MATCH;
  // After actions: the field whose value may span several comma-separated items.
  let openKey: string | null = null;
  let openFrom = 0;
  let openTo = 0;

  // `-m` puts the ufid first (lib/dpctl.c): take it before the match fast path.
  if (wordAt(line, i, 'ufid:')) {
    const comma = line.indexOf(',', i);
    const end = comma < 0 ? n : comma;
    info.ufid = line.slice(i + 5, end);
    i = end;
  }
  while (i < n && (line.charCodeAt(i) === COMMA || isBlank(line.charCodeAt(i)))) i++;
  if (fast) {
    i = scanKnownFields(line, i, n, match);
    i = scanStats(line, i, n, info);
    if (wordAt(line, i, 'actions:')) {
      // the first action shares its item with `actions:`: if the fast path cannot take
      // it, the whole item goes to the general scanner
      const next = scanActions(line, i + 8, n, actions);
      if (next > i + 8) {
        phase = ACTIONS;
        i = scanExtraInfo(line, next, n, info);
      }
    }
  }

  while (i < n) {
    const c0 = line.charCodeAt(i);
    if (c0 === COMMA || isBlank(c0)) {
      i++;
      continue;
    }
    const start = i;
    let depth = 0;
    let open = -1; // first top-level '(' before any ':'
    let close = -1; // where that group closes
    let colon = -1; // first top-level ':' before any '('
    for (; i < n; i++) {
      const c = line.charCodeAt(i);
      if (c === OPEN) {
        if (depth === 0 && open < 0 && colon < 0) open = i;
        depth++;
      } else if (c === CLOSE) {
        if (depth === 0) {
          return fail(lineNo, line, `unbalanced parentheses: ")" at column ${i + 1}`);
        }
        depth--;
        if (depth === 0 && close < 0 && open >= 0) close = i;
      } else if (depth === 0) {
        if (c === COMMA) break;
        if (c === COLON && colon < 0 && open < 0) colon = i;
      }
    }
    if (depth !== 0) return fail(lineNo, line, `unbalanced parentheses: ${depth} "(" not closed`);
    let end = i;
    while (end > start && isBlank(line.charCodeAt(end - 1))) end--;
    const key = colon > start ? infoKey(line, start, colon) : null;

    if (phase === MATCH) {
      if (key === 'actions') {
        phase = ACTIONS;
        let from = colon + 1;
        while (from < end && isBlank(line.charCodeAt(from))) from++;
        if (from < end) {
          const a = parseAction(line, from, end);
          if (typeof a === 'string') return fail(lineNo, line, a);
          actions.push(a);
        }
      } else if (key !== null) {
        const err = info.set(key, line, colon + 1, end);
        if (err !== null) return fail(lineNo, line, err);
      } else if (open > start && close === end - 1) {
        const name =
          MATCH_FIELDS.at(line, start, open) ??
          (isIdent(line, start, open) ? line.slice(start, open) : '');
        if (name === '' || name.length !== open - start) {
          return fail(lineNo, line, `not a flow field: ${excerpt(line.slice(start, end))}`);
        }
        if (name === '__proto__') return fail(lineNo, line, 'reserved field name __proto__');
        match[name] = line.slice(open + 1, close);
      } else if (!(end - start === 7 && wordAt(line, start, '<empty>'))) {
        // `<empty>` is how OVS prints a flow key with no attributes at all.
        return fail(lineNo, line, `not a flow field: ${excerpt(line.slice(start, end))}`);
      }
    } else if (key !== null) {
      if (openKey !== null) {
        const err = info.set(openKey, line, openFrom, openTo);
        if (err !== null) return fail(lineNo, line, err);
      }
      if (key === 'actions') return fail(lineNo, line, 'duplicate actions:');
      openKey = key;
      phase = AFTER;
      openFrom = colon + 1;
      openTo = end;
    } else if (phase === ACTIONS) {
      const a = parseAction(line, start, end);
      if (typeof a === 'string') return fail(lineNo, line, a);
      actions.push(a);
    } else {
      // A comma at depth 0 inside a field after the actions (free text such as
      // dp-extra-info): the value runs on to the next `key:`.
      openTo = end;
    }
  }
  if (openKey !== null) {
    const err = info.set(openKey, line, openFrom, openTo);
    if (err !== null) return fail(lineNo, line, err);
  }
  if (phase === MATCH) return fail(lineNo, line, 'not a flow: no "actions:" field');
  if (info.packets === undefined) return fail(lineNo, line, 'missing packets:');
  if (info.bytes === undefined) return fail(lineNo, line, 'missing bytes:');
  if (info.used === undefined) return fail(lineNo, line, 'missing used:');
  return {
    inPort: match.in_port ?? null,
    ufid: info.ufid,
    packets: info.packets,
    bytes: info.bytes,
    used: info.used,
    dp: info.dp,
    offloaded: info.offloaded,
    match,
    actions,
    dpExtraInfo: info.dpExtraInfo,
    extra: info.extra,
    raw: line,
  };
}
