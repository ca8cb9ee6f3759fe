import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OvsdbProtocolError } from '../../../src/ovs/errors.js';
import {
  emptySet,
  map,
  namedUuid,
  optional,
  optionalInteger,
  optionalString,
  sanitizeUuidName,
  set,
  setElements,
  stringMap,
  uuid,
  UUID_NAME_RE,
  UuidNamer,
  uuidSet,
  uuidValue,
} from '../../../src/ovs/ovsdb/index.js';

const U1 = '6d2b6370-d204-4efd-b23f-d71bd3beb297';
const U2 = 'a8f09175-8eec-4f66-b423-065d04fabc65';

describe('OVSDB value helpers', () => {
  it('build the tagged notation of RFC 7047 §5.1', () => {
    expect(uuid(U1)).toEqual(['uuid', U1]);
    expect(namedUuid('row_1')).toEqual(['named-uuid', 'row_1']);
    expect(set(['a', 1, true])).toEqual(['set', ['a', 1, true]]);
    expect(emptySet()).toEqual(['set', []]);
    expect(map({ b: '2', a: '1' })).toEqual([
      'map',
      [
        ['a', '1'],
        ['b', '2'],
      ],
    ]);
    expect(() => uuid('not-a-uuid')).toThrow(TypeError);
    expect(() => namedUuid('0bad')).toThrow(TypeError);
  });

  it('read a one-element set sent as a bare atom like a set', () => {
    expect(setElements(['set', ['a', 'b']])).toEqual(['a', 'b']);
    expect(setElements('a')).toEqual(['a']);
    expect(setElements(undefined)).toEqual([]);
    expect(uuidSet(['uuid', U1])).toEqual([U1]);
    expect(
      uuidSet([
        'set',
        [
          ['uuid', U1],
          ['uuid', U2],
        ],
      ]),
    ).toEqual([U1, U2]);
  });

  it.each([
    ['empty set', ['set', []], null],
    ['bare integer', 7, 7],
    ['one-element set', ['set', [7]], 7],
    ['missing column', undefined, null],
  ] as const)('decode an optional integer column: %s', (_n, v, want) => {
    expect(optionalInteger(v as never)).toBe(want);
  });

  it('decode optional strings and maps, and reject wrong shapes with a protocol error', () => {
    expect(optionalString(['set', []])).toBeNull();
    expect(optionalString('could not open')).toBe('could not open');
    expect(stringMap(['map', [['iface-id', 'a.b']]])).toEqual({ 'iface-id': 'a.b' });
    expect(stringMap(undefined)).toEqual({});
    expect(uuidValue(['uuid', U1])).toBe(U1);
    expect(() => optional(['set', [1, 2]])).toThrow(OvsdbProtocolError);
    expect(() => optionalInteger('x')).toThrow(OvsdbProtocolError);
    expect(() => stringMap(['set', []])).toThrow(OvsdbProtocolError);
    expect(() => stringMap(['map', [['k', 1]]])).toThrow(OvsdbProtocolError);
    expect(() => setElements(['map', []])).toThrow(OvsdbProtocolError);
    expect(() => uuidValue('x')).toThrow(OvsdbProtocolError);
  });
});

describe('uuid-name sanitizing', () => {
  it.each([
    ['pod-a.ns', 'pod_a_ns'],
    ['0vf1', '_0vf1'],
    ['', '_'],
    ['ok_Name9', 'ok_Name9'],
    ['iface_enp3s0f0_3', 'iface_enp3s0f0_3'],
    ['é😀', '___'],
  ])('%j → %j', (hint, want) => {
    expect(sanitizeUuidName(hint)).toBe(want);
  });

  it('always yields an RFC 7047 <id> and keeps valid names unchanged (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (hint) => {
        const s = sanitizeUuidName(hint);
        expect(s).toMatch(UUID_NAME_RE);
        if (UUID_NAME_RE.test(hint)) expect(s).toBe(hint);
      }),
    );
  });

  it('hands out distinct names for hints that sanitize alike', () => {
    const n = new UuidNamer();
    const names = ['a-b', 'a.b', 'a_b', 'a-b'].map((h) => n.name(h));
    expect(names).toEqual(['a_b', 'a_b_2', 'a_b_3', 'a_b_4']);
    for (const x of names) expect(x).toMatch(UUID_NAME_RE);
  });
});
