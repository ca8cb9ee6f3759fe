import { describe, expect, it } from 'vitest';
import {
  columnKinds,
  RowCache,
  type DatabaseSchema,
  type MonitorEvent,
} from '../../../src/ovs/ovsdb/index.js';

const U1 = '6d2b6370-d204-4efd-b23f-d71bd3beb297';
const U2 = 'a8f09175-8eec-4f66-b423-065d04fabc65';

/** The Interface columns of vswitch.ovsschema that exercise every diff rule. */
const schema: DatabaseSchema = {
  name: 'Open_vSwitch',
  tables: {
    Interface: {
      columns: {
        name: { type: 'string' },
        ofport: { type: { key: 'integer', min: 0, max: 1 } },
        error: { type: { key: 'string', min: 0, max: 1 } },
        external_ids: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
        bond_active: { type: { key: { type: 'integer' }, min: 0, max: 'unlimited' } },
      },
    },
  },
};

const ev2 = (initial: boolean, updates: Record<string, Record<string, unknown>>): MonitorEvent =>
  ({ version: 2, initial, updates }) as MonitorEvent;

describe('columnKinds', () => {
  it('marks only max>1 columns composite (optional columns carry new values in update2)', () => {
    expect(columnKinds(schema).Interface).toEqual({
      name: { composite: false, map: false },
      ofport: { composite: false, map: false },
      error: { composite: false, map: false },
      external_ids: { composite: true, map: true },
      bond_active: { composite: true, map: false },
    });
  });
});

describe('RowCache', () => {
  it('applies update (v1): whole new rows, deletes', () => {
    const c = new RowCache(['Interface']);
    c.apply({
      version: 1,
      initial: true,
      updates: { Interface: { [U1]: { new: { name: 'a', ofport: ['set', []] } } } },
    });
    const ch = c.apply({
      version: 1,
      initial: false,
      updates: {
        Interface: { [U1]: { old: { ofport: ['set', []] }, new: { name: 'a', ofport: 3 } } },
      },
    });
    expect(ch).toEqual([
      {
        table: 'Interface',
        uuid: U1,
        old: { name: 'a', ofport: ['set', []] },
        new: { name: 'a', ofport: 3 },
      },
    ]);
    c.apply({
      version: 1,
      initial: false,
      updates: { Interface: { [U1]: { old: { name: 'a', ofport: 3 } } } },
    });
    expect(c.rows('Interface').size).toBe(0);
  });

  it('applies update2 diffs: scalars and optionals replace, maps and sets toggle', () => {
    const c = new RowCache(['Interface'], columnKinds(schema));
    c.apply(
      ev2(true, {
        Interface: {
          // Default-valued columns are omitted from initial/insert rows.
          [U1]: {
            initial: {
              name: 'a',
              external_ids: [
                'map',
                [
                  ['keep', '1'],
                  ['drop', '2'],
                  ['change', 'old'],
                ],
              ],
              bond_active: ['set', [1, 2]],
            },
          },
        },
      }),
    );
    c.apply(
      ev2(false, {
        Interface: {
          [U1]: {
            modify: {
              ofport: 5,
              error: 'could not open network device a (No such device)',
              external_ids: [
                'map',
                [
                  ['drop', '2'],
                  ['change', 'new'],
                  ['add', '3'],
                ],
              ],
              bond_active: ['set', [2, 3]],
            },
          },
        },
      }),
    );
    expect(c.get('Interface', U1)).toEqual({
      name: 'a',
      ofport: 5,
      error: 'could not open network device a (No such device)',
      external_ids: [
        'map',
        [
          ['keep', '1'],
          ['change', 'new'],
          ['add', '3'],
        ],
      ],
      bond_active: ['set', [1, 3]],
    });
    // An optional column emptied again arrives as the new (empty) value, not as a diff.
    c.apply(
      ev2(false, { Interface: { [U1]: { modify: { error: ['set', []], bond_active: 1 } } } }),
    );
    expect(c.get('Interface', U1)).toMatchObject({ error: ['set', []], bond_active: ['set', [3]] });
  });

  it('replaces everything on a re-delivered initial state and reports the difference', () => {
    const c = new RowCache(['Interface'], columnKinds(schema));
    c.apply(
      ev2(true, {
        Interface: { [U1]: { initial: { name: 'a' } }, [U2]: { initial: { name: 'b' } } },
      }),
    );
    const ch = c.apply(ev2(true, { Interface: { [U2]: { initial: { name: 'b', ofport: 2 } } } }));
    expect([...c.rows('Interface').keys()]).toEqual([U2]);
    expect(ch).toEqual(
      expect.arrayContaining([
        { table: 'Interface', uuid: U1, old: { name: 'a' }, new: undefined },
        { table: 'Interface', uuid: U2, old: { name: 'b' }, new: { name: 'b', ofport: 2 } },
      ]),
    );
    expect(ch).toHaveLength(2);
    // A table with no rows is absent from an initial reply: it must still be cleared.
    c.apply(ev2(true, {}));
    expect(c.rows('Interface').size).toBe(0);
  });

  it('refuses a diff for a row it never saw (the stream is inconsistent)', () => {
    const c = new RowCache(['Interface'], columnKinds(schema));
    expect(() => c.apply(ev2(false, { Interface: { [U1]: { modify: { ofport: 1 } } } }))).toThrow(
      /modify of unknown row/,
    );
  });
});
