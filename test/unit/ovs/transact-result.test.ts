import { describe, expect, it } from 'vitest';
import { OvsdbError, OvsdbProtocolError, isRetryable } from '../../../src/ovs/errors.js';
import { checkTransactResult, type Operation } from '../../../src/ovs/ovsdb/index.js';

const U1 = '6d2b6370-d204-4efd-b23f-d71bd3beb297';
const ops: Operation[] = [
  { op: 'wait', table: 'Bridge', where: [], columns: ['name'], until: '==', rows: [], timeout: 0 },
  { op: 'insert', table: 'Interface', row: { name: 'p' }, 'uuid-name': 'i' },
  { op: 'mutate', table: 'Bridge', where: [], mutations: [] },
];
const err = (error: string, details?: string) => ({ error, ...(details ? { details } : {}) });

describe('checkTransactResult (RFC 7047 §4.1.3)', () => {
  it('returns one typed result per operation when all succeeded', () => {
    const r = checkTransactResult('Open_vSwitch', ops, [{}, { uuid: ['uuid', U1] }, { count: 1 }]);
    expect(r).toEqual([{}, { uuid: U1 }, { count: 1 }]);
  });

  it('returns select rows', () => {
    const sel: Operation[] = [{ op: 'select', table: 'Port', where: [] }];
    const rows = [{ _uuid: ['uuid', U1], name: 'p', tag: ['set', []] }];
    expect(checkTransactResult('db', sel, [{ rows }])).toEqual([{ rows }]);
  });

  it.each([
    {
      name: 'the first operation failed; the rest were not attempted (null)',
      result: [err('timed out', '"where" clause test failed'), null, null],
      op: 'wait',
      index: 0,
      message: 'transact Open_vSwitch op 0 (wait): timed out: "where" clause test failed',
    },
    {
      name: 'a middle operation failed after a success',
      result: [{}, err('constraint violation', 'bad name'), null],
      op: 'insert',
      index: 1,
      message: 'transact Open_vSwitch op 1 (insert): constraint violation: bad name',
    },
    {
      name: 'the last operation failed',
      result: [{}, { uuid: ['uuid', U1] }, err('not allowed')],
      op: 'mutate',
      index: 2,
      message: 'transact Open_vSwitch op 2 (mutate): not allowed',
    },
    {
      name: 'every operation succeeded but the commit failed (extra trailing error)',
      result: [
        {},
        { uuid: ['uuid', U1] },
        { count: 1 },
        err('referential integrity violation', 'dangling'),
      ],
      op: 'commit',
      index: undefined,
      message: 'transact Open_vSwitch: referential integrity violation: dangling',
    },
    {
      name: 'the whole request was refused (an error object instead of the array)',
      result: err('syntax error', 'array expected'),
      op: 'transact',
      index: undefined,
      message: 'transact Open_vSwitch: syntax error: array expected',
    },
  ])('throws OvsdbError when $name', ({ result, op, index, message }) => {
    let thrown: unknown;
    try {
      checkTransactResult('Open_vSwitch', ops, result);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(OvsdbError);
    expect(thrown).toMatchObject({ op, index });
    expect((thrown as Error).message).toBe(message);
    expect(isRetryable(thrown)).toBe(false);
  });

  it('recognises a unique-index conflict', () => {
    let e: unknown;
    try {
      checkTransactResult('Open_vSwitch', ops, [
        {},
        { uuid: ['uuid', U1] },
        { count: 1 },
        err(
          'constraint violation',
          'Transaction causes multiple rows in "Port" table to have identical values (p) for index on column "name".',
        ),
      ]);
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(OvsdbError);
    expect((e as OvsdbError).isIndexConflict).toBe(true);
  });

  it.each([
    ['fewer results than operations', [{}, {}]],
    ['no results at all', []],
    ['more than one extra result', [{}, {}, {}, err('x'), err('y')]],
    ['an extra result that is not an error', [{}, {}, {}, {}]],
    ['a null with no failure before it', [{}, null, {}]],
    ['a result that is not an object', [{}, 'ok', {}]],
    ['a malformed uuid member', [{}, { uuid: 'x' }, {}]],
    ['neither array nor error object', { rows: [] }],
    ['null', null],
  ])('is a protocol error when the reply has %s', (_n, result) => {
    expect(() => checkTransactResult('Open_vSwitch', ops, result)).toThrow(OvsdbProtocolError);
  });
});
