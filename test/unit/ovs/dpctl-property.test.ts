import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  counterFromBigInt,
  parseFlowLine,
  type DpAction,
  type DpFlow,
} from '../../../src/ovs/dpctl/index.js';
import { parseFlowLineSlowly } from '../../../src/ovs/dpctl/line.js';
import { FlowGenerator } from '../../../bench/flows-parse/generate.js';
import { dumpflowsFixtureNames, dumpflowsFlowLines } from '../../helpers/dpctl-fixtures.js';

/**
 * Random flows built from a grammar of what dump-flows prints (nested values with commas and
 * spaces inside parentheses, masks, u64 counters, vendor fields, either separator style,
 * CRLF), printed, parsed back, and compared with the model: nothing may be lost or changed.
 */

const BARE = ['drop', 'ct', 'ct_clear', 'pop_vlan', 'pop_eth', 'pop_nsh'];
const RESERVED = [
  'packets',
  'bytes',
  'used',
  'ufid',
  'dp',
  'offloaded',
  'dp-extra-info',
  'actions',
  'flags',
];

const ident = fc.stringMatching(/^[a-z_][a-z0-9_]{0,10}$/).filter((s) => s !== '__proto__');

/** Text that may hold anything but parentheses: inside parentheses commas and spaces are fine. */
const atom = fc.stringMatching(/^[a-zA-Z0-9_.:/=+|{} ,-]{0,12}$/);

/** A balanced value: atoms and name(value) groups joined by commas. */
const { value } = fc.letrec<{ value: string; group: string }>((tie) => ({
  value: fc
    .array(fc.oneof({ depthSize: 'small', withCrossShrink: true }, atom, tie('group')), {
      maxLength: 4,
    })
    .map((xs) => xs.join(',')),
  group: fc.tuple(fc.oneof(ident, fc.constant('')), tie('value')).map(([n, v]) => `${n}(${v})`),
}));

const port = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/);
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

const action: fc.Arbitrary<DpAction> = fc.oneof(
  port.map((p) => (BARE.includes(p) ? { name: p, args: null } : { name: 'output', args: p })),
  fc.constantFrom(...BARE).map((name) => ({ name, args: null })),
  fc.tuple(ident, value).map(([name, args]) => ({ name, args })),
);

/** Free text after dp-extra-info: no `key:` item after a top-level comma, no edge spaces. */
const extraInfo = fc
  .array(
    fc.oneof(
      fc.stringMatching(/^[a-z0-9_]{1,8}$/),
      fc.tuple(ident, value).map(([n, v]) => `${n}(${v})`),
    ),
    {
      minLength: 1,
      maxLength: 3,
    },
  )
  .map((xs) => xs.join(','));

const vendorKey = fc
  .stringMatching(/^[a-z_][a-z0-9_-]{0,12}$/)
  .filter((k) => !RESERVED.includes(k) && k !== '__proto__');
const vendorValue = fc.stringMatching(/^[A-Za-z0-9_.]{1,10}$/);

const model = fc.record({
  ufid: fc.option(fc.uuid(), { nil: null }),
  match: fc.uniqueArray(fc.tuple(ident, value), { selector: ([k]) => k, maxLength: 8 }),
  inPort: fc.option(port, { nil: null }),
  packets: u64,
  bytes: u64,
  usedMs: fc.option(fc.integer({ min: 0, max: 10_000_000 }), { nil: null }),
  tcpFlags: fc.option(fc.constantFrom('S', 'SF.', 'P.', 'R.'), { nil: null }),
  offloaded: fc.option(fc.constantFrom('yes' as const, 'partial' as const), { nil: null }),
  dp: fc.option(fc.constantFrom('tc' as const, 'ovs' as const, 'dpdk' as const), { nil: null }),
  dpFirst: fc.boolean(),
  vendor: fc.uniqueArray(fc.tuple(vendorKey, vendorValue), { selector: ([k]) => k, maxLength: 2 }),
  vendorAfter: fc.boolean(),
  actions: fc.array(action, { maxLength: 5 }),
  dpExtraInfo: fc.option(extraInfo, { nil: null }),
  tight: fc.boolean(),
  indent: fc.constantFrom('', '   ', '\t'),
  eol: fc.constantFrom('', '\r', '\r\n', '\n'),
});

type Model = typeof model extends fc.Arbitrary<infer T> ? T : never;

function print(m: Model): { line: string; expected: DpFlow } {
  const sep = m.tight ? ',' : ', ';
  const match: [string, string][] = m.match.filter(([k]) => k !== 'in_port');
  if (m.inPort !== null) match.splice(Math.min(1, match.length), 0, ['in_port', m.inPort]);
  const head: string[] = [];
  if (m.ufid !== null) head.push(`ufid:${m.ufid}`);
  if (match.length > 0) head.push(match.map(([k, v]) => `${k}(${v})`).join(','));
  else head.push('<empty>');
  const used = m.usedMs === null ? 'never' : `${(m.usedMs / 1000).toFixed(3)}s`;
  const stats = [`packets:${m.packets}`, `bytes:${m.bytes}`, `used:${used}`];
  if (m.tcpFlags !== null) stats.push(`flags:${m.tcpFlags}`);
  const layer: string[] = [];
  if (m.offloaded !== null) layer.push(`offloaded:${m.offloaded}`);
  if (m.dp !== null) layer.push(`dp:${m.dp}`);
  if (m.dpFirst) layer.reverse();
  const vendor = m.vendor.map(([k, v]) => `${k}:${v}`);
  const actions = m.actions
    .map((a) => (a.name === 'output' ? a.args : a.args === null ? a.name : `${a.name}(${a.args})`))
    .join(',');
  const tail: string[] = [];
  if (m.dpExtraInfo !== null) tail.push(`dp-extra-info:${m.dpExtraInfo}`);
  if (m.vendorAfter) tail.push(...vendor);
  const raw =
    m.indent +
    [
      ...head,
      ...stats,
      ...(m.vendorAfter ? [] : vendor),
      ...layer,
      `actions:${actions}`,
      ...tail,
    ].join(sep);
  const extra: Record<string, string> = {};
  if (m.tcpFlags !== null) extra.flags = m.tcpFlags;
  for (const [k, v] of m.vendor) extra[k] = v;
  return {
    line: raw + m.eol,
    expected: {
      inPort: m.inPort,
      ufid: m.ufid,
      packets: counterFromBigInt(m.packets),
      bytes: counterFromBigInt(m.bytes),
      used: m.usedMs === null ? null : Number((m.usedMs / 1000).toFixed(3)),
      dp: m.dp,
      offloaded: m.offloaded,
      match: Object.fromEntries(match),
      actions: m.actions,
      dpExtraInfo: m.dpExtraInfo,
      extra,
      raw,
    },
  };
}

describe('dpctl parser properties', () => {
  it('a flow printed from the grammar parses back to exactly its model', () => {
    fc.assert(
      fc.property(model, (m) => {
        const { line, expected } = print(m);
        const got = parseFlowLine(line, 1);
        expect(got).toEqual(expected);
        // key order of match is the order of appearance
        expect(Object.keys((got as DpFlow).match)).toEqual(Object.keys(expected.match));
      }),
      { numRuns: 2000 },
    );
  });

  it('counters survive JSON: numbers are safe integers, strings only above 2^53−1', () => {
    fc.assert(
      fc.property(u64, u64, (p, b) => {
        const got = parseFlowLine(`in_port(1), packets:${p}, bytes:${b}, used:never, actions:2`);
        const back = JSON.parse(JSON.stringify(got)) as DpFlow;
        expect(BigInt(back.packets)).toBe(p);
        expect(BigInt(back.bytes)).toBe(b);
        expect(typeof back.packets === 'string').toBe(p > BigInt(Number.MAX_SAFE_INTEGER));
      }),
    );
  });

  it('never throws: any text is a flow, skipped, or a one-line error with its raw line', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.nat(), (text, n) => {
        const line = text.replace(/[\r\n]/g, '');
        const r = parseFlowLine(line, n + 1);
        if (r !== null && 'message' in r) {
          expect([r.line, r.raw]).toEqual([n + 1, line]);
          expect(r.message).toMatch(/^[^\n]+$/);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('the fast paths give what the character-by-character scanner gives, on damaged lines too', () => {
    const real = [
      ...dumpflowsFixtureNames().flatMap((n) => dumpflowsFlowLines(n)),
      ...[...new FlowGenerator(11).lines(200)].slice(1),
    ];
    const edit = fc.record({
      at: fc.nat(),
      del: fc.nat(3),
      ins: fc.stringMatching(/^[(),: a-z0-9]{0,3}$/),
    });
    fc.assert(
      fc.property(fc.constantFrom(...real), fc.array(edit, { maxLength: 3 }), (line, edits) => {
        let s = line;
        for (const e of edits) {
          const at = e.at % (s.length + 1);
          s = s.slice(0, at) + e.ins + s.slice(at + e.del);
        }
        expect(parseFlowLine(s, 3)).toEqual(parseFlowLineSlowly(s, 3));
      }),
      { numRuns: 5000 },
    );
    for (const line of real) expect(parseFlowLine(line)).toEqual(parseFlowLineSlowly(line));
  });
});
