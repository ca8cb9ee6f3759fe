import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OvsdbProtocolError } from '../../../src/ovs/errors.js';
import { JsonStreamSplitter } from '../../../src/ovs/ovsdb/index.js';

/** Characters that break naive framers: delimiters inside strings, escapes, multi-byte UTF-8. */
const tricky = fc.string({
  unit: fc.constantFrom(
    '{',
    '}',
    '[',
    ']',
    '"',
    '\\',
    ':',
    ',',
    'a',
    'é',
    '€',
    '😀',
    '\n',
    '\u0000',
    '\u2028',
    ' ',
  ),
  maxLength: 20,
});
const text = fc.oneof(tricky, fc.string({ unit: 'binary', maxLength: 20 }));
const uuid = fc.uuid().map((u) => ['uuid', u]);
const atom = fc.oneof(text, fc.integer(), fc.boolean(), uuid);
const value = fc.oneof(
  atom,
  fc.array(atom, { maxLength: 4 }).map((xs) => ['set', xs]),
  fc.array(fc.tuple(text, text), { maxLength: 4 }).map((xs) => ['map', xs]),
);
const row = fc.dictionary(text, value, { maxKeys: 5 });

/** Realistic OVSDB JSON-RPC traffic in both directions. */
const message = fc.oneof(
  fc.record({
    id: fc.nat(),
    method: fc.constant('transact'),
    params: fc.tuple(
      fc.constant('Open_vSwitch'),
      fc.record({ op: fc.constant('insert'), table: text, row, 'uuid-name': text }),
    ),
  }),
  fc.record({
    id: fc.nat(),
    result: fc.array(
      fc.oneof(fc.record({ uuid }), fc.record({ rows: fc.array(row, { maxLength: 3 }) })),
      {
        maxLength: 4,
      },
    ),
    error: fc.constant(null),
  }),
  fc.record({
    id: fc.constant(null),
    method: fc.constantFrom('update', 'update2'),
    params: fc.tuple(text, fc.dictionary(text, fc.dictionary(fc.uuid(), fc.record({ new: row })))),
  }),
  fc.record({ id: fc.constant('echo'), method: fc.constant('echo'), params: fc.constant([]) }),
  fc.jsonValue().map((v) => ({ any: v })),
  fc.array(fc.jsonValue(), { maxLength: 3 }),
);

const separator = fc.constantFrom('', '', ' ', '\n', '\r\n', '\t ');

/** Splits bytes at the given (unsorted, possibly repeated) cut points. */
function chunk(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  return out;
}

function feed(chunks: Buffer[], s = new JsonStreamSplitter()): unknown[] {
  const out: unknown[] = [];
  for (const c of chunks) s.push(c, (v) => out.push(v));
  s.end();
  return out;
}

describe('JsonStreamSplitter', () => {
  it('yields the same values however the byte stream is chunked (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(message, separator), { minLength: 1, maxLength: 25 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (msgs, cuts) => {
          const wire = Buffer.from(
            msgs.map(([m, sep]) => JSON.stringify(m) + sep).join(''),
            'utf8',
          );
          const expected = msgs.map(([m]) => JSON.parse(JSON.stringify(m)) as unknown);
          expect(feed(chunk(wire, cuts))).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('handles one byte at a time, including every multi-byte UTF-8 sequence boundary', () => {
    const msgs = [
      {
        id: 1,
        result: [{ rows: [{ name: 'é€😀', external_ids: ['map', [['k}', 'v]"\\']]] }] }],
        error: null,
      },
      { id: null, method: 'update', params: ['m1', { Interface: {} }] },
      ['set', ['{', '[', '"', '\\"']],
    ];
    const wire = Buffer.from(msgs.map((m) => JSON.stringify(m)).join(''), 'utf8');
    const bytes = [...wire].map((b) => Buffer.from([b]));
    expect(feed(bytes)).toEqual(msgs);
  });

  it('emits several values from one chunk, in order', () => {
    const s = new JsonStreamSplitter();
    expect(s.pushAll(Buffer.from('{"a":1}{"b":2} [3]\n{"c":"}"}'))).toEqual([
      { a: 1 },
      { b: 2 },
      [3],
      { c: '}' },
    ]);
    expect(s.buffered).toBe(0);
  });

  it.each([
    ['garbage text', Buffer.from('hello')],
    ['a stray closing brace', Buffer.from('}')],
    ['a bare string at top level', Buffer.from('"x"')],
    ['a bare number at top level', Buffer.from('42')],
    ['balanced but invalid JSON', Buffer.from('{"a":}')],
    ['a bad literal', Buffer.from('{"a":tru}')],
    ['mismatched brackets', Buffer.from('{"a":[1}]')],
    [
      'invalid UTF-8 inside a string',
      Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    ],
    ['nesting deeper than the bound', Buffer.from('['.repeat(300) + ']'.repeat(300))],
  ])('rejects %s with a protocol error', (_name, bytes) => {
    const s = new JsonStreamSplitter();
    expect(() => s.pushAll(bytes)).toThrow(OvsdbProtocolError);
    // The stream cannot be resynchronised: the splitter stays failed.
    expect(() => s.pushAll(Buffer.from('{}'))).toThrow(OvsdbProtocolError);
  });

  it('delivers the values completed before the bad byte', () => {
    const s = new JsonStreamSplitter();
    const got: unknown[] = [];
    expect(() =>
      s.push(Buffer.from('{"id":1,"result":[],"error":null}xyz'), (v) => got.push(v)),
    ).toThrow(/unexpected byte 0x78/);
    expect(got).toEqual([{ id: 1, result: [], error: null }]);
  });

  it('reports a value truncated by the end of the stream', () => {
    const s = new JsonStreamSplitter();
    expect(s.pushAll(Buffer.from('{"id":1}{"id":2,"result":["set",[1,'))).toEqual([{ id: 1 }]);
    expect(() => s.end()).toThrow(/stream ended inside a message/);
  });

  it('fails a 10 MiB string once it passes the bound, holding no more than the bound', () => {
    const max = 1024 * 1024;
    const s = new JsonStreamSplitter({ maxMessageBytes: max });
    const piece = Buffer.alloc(64 * 1024, 'x');
    let fed = 0;
    let err: unknown;
    try {
      s.pushAll(Buffer.from('{"id":1,"result":"'));
      for (; fed < 10 * 1024 * 1024; fed += piece.length) {
        s.pushAll(piece);
        expect(s.buffered).toBeLessThanOrEqual(max);
      }
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OvsdbProtocolError);
    expect((err as Error).message).toBe(`read ovsdb stream: message exceeds ${max} bytes`);
    expect(fed).toBeLessThanOrEqual(max);
    expect(s.buffered).toBe(0);
  });

  it('fails a 10 MiB value delivered in a single chunk with the default bound', () => {
    const s = new JsonStreamSplitter();
    const big = Buffer.from(`{"s":"${'y'.repeat(10 * 1024 * 1024)}"}`);
    expect(() => s.pushAll(big)).toThrow(/message exceeds 8388608 bytes/);
  });

  it('accepts a value of exactly the bound', () => {
    const v = `{"s":"${'z'.repeat(100)}"}`;
    const s = new JsonStreamSplitter({ maxMessageBytes: Buffer.byteLength(v) });
    expect(s.pushAll(Buffer.from(v + v))).toHaveLength(2);
    const t = new JsonStreamSplitter({ maxMessageBytes: Buffer.byteLength(v) - 1 });
    expect(() => t.pushAll(Buffer.from(v))).toThrow(OvsdbProtocolError);
  });

  it('survives random garbage without crashing or buffering beyond the bound (fuzz)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }), (chunks) => {
        const s = new JsonStreamSplitter({ maxMessageBytes: 512 });
        try {
          for (const c of chunks) {
            s.push(Buffer.from(c), () => undefined);
            expect(s.buffered).toBeLessThanOrEqual(512);
          }
          s.end();
        } catch (err) {
          expect(err).toBeInstanceOf(OvsdbProtocolError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
