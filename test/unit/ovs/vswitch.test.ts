import { describe, expect, it } from 'vitest';
import { OvsdbError, PortConflictError, PortNotOwnedError } from '../../../src/ovs/errors.js';
import {
  UUID_NAME_RE,
  type Monitor,
  type MonitorRequest,
  type Operation,
  type OperationResult,
} from '../../../src/ovs/ovsdb/index.js';
import {
  OWNER_KEY,
  Vswitch,
  type AttachPortRequest,
  type OvsdbTransport,
} from '../../../src/ovs/vswitch.js';
import { InvalidInputError, NotFoundError } from '../../../src/sys/index.js';

const U = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** Records transactions and answers them from a script (no socket, no daemon). */
class FakeTransport implements OvsdbTransport {
  readonly txns: Operation[][] = [];
  /** Answers are plain JSON, as they would come off the wire. */
  constructor(private readonly answer: (ops: Operation[], n: number) => unknown[]) {}
  async transact(_db: string, ops: readonly Operation[]): Promise<OperationResult[]> {
    this.txns.push([...ops]);
    return this.answer([...ops], this.txns.length - 1) as OperationResult[];
  }
  getSchema(): never {
    throw new Error('not used');
  }
  monitorCond(_req: MonitorRequest): Promise<Monitor> {
    throw new Error('not used');
  }
}

const okAttach = (ops: Operation[]): unknown[] =>
  ops.map((o, i) => (o.op === 'insert' ? { uuid: U(i) } : o.op === 'mutate' ? { count: 1 } : {}));

const base: AttachPortRequest = {
  bridge: 'br-int',
  name: 'enp3s0f0_2',
  interfaceExternalIds: { 'iface-id': 'web-0.default', pod_netns: '/var/run/netns/cni-1' },
};

describe('Vswitch.attachPort', () => {
  it('is ONE transaction: guard the bridge, insert Interface and Port, add it to Bridge.ports', async () => {
    const t = new FakeTransport(okAttach);
    const vs = new Vswitch(t, { owner: 'node-a' });
    const r = await vs.attachPort({
      ...base,
      portExternalIds: { x: 'y' },
      tag: 100,
      mtuRequest: 9000,
      ofportRequest: 42,
    });
    expect(r).toEqual({ interfaceUuid: U(1), portUuid: U(2), created: true });
    expect(t.txns).toHaveLength(1);
    const [guard, iface, port, mutate] = t.txns[0]!;
    expect(guard).toEqual({
      op: 'wait',
      table: 'Bridge',
      where: [['name', '==', 'br-int']],
      columns: ['name'],
      until: '==',
      rows: [{ name: 'br-int' }],
      timeout: 0,
    });
    expect(iface).toMatchObject({
      op: 'insert',
      table: 'Interface',
      row: {
        name: 'enp3s0f0_2',
        type: '',
        options: ['map', []],
        external_ids: [
          'map',
          [
            ['iface-id', 'web-0.default'],
            [OWNER_KEY, 'node-a'],
            ['pod_netns', '/var/run/netns/cni-1'],
          ],
        ],
        ofport_request: 42,
        mtu_request: 9000,
      },
    });
    expect(port).toMatchObject({
      op: 'insert',
      table: 'Port',
      row: {
        name: 'enp3s0f0_2',
        external_ids: [
          'map',
          [
            [OWNER_KEY, 'node-a'],
            ['x', 'y'],
          ],
        ],
        tag: 100,
      },
    });
    const ifaceName = (iface as { 'uuid-name': string })['uuid-name'];
    const portName = (port as { 'uuid-name': string })['uuid-name'];
    expect(ifaceName).toMatch(UUID_NAME_RE);
    expect(portName).toMatch(UUID_NAME_RE);
    expect(ifaceName).not.toBe(portName);
    expect((port as { row: Record<string, unknown> }).row.interfaces).toEqual([
      'named-uuid',
      ifaceName,
    ]);
    expect(mutate).toEqual({
      op: 'mutate',
      table: 'Bridge',
      where: [['name', '==', 'br-int']],
      mutations: [['ports', 'insert', ['set', [['named-uuid', portName]]]]],
    });
  });

  it('writes the OVS-DPDK representor form (type dpdk, dpdk-devargs)', async () => {
    const t = new FakeTransport(okAttach);
    const vs = new Vswitch(t, { owner: 'node-a' });
    await vs.attachPort({
      bridge: 'br-int',
      name: 'dpdk-rep-0000:03:00.0-vf3',
      type: 'dpdk',
      options: { 'dpdk-devargs': '0000:03:00.0,representor=vf3' },
      interfaceExternalIds: {},
    });
    expect(t.txns[0]![1]).toMatchObject({
      row: {
        name: 'dpdk-rep-0000:03:00.0-vf3',
        type: 'dpdk',
        options: ['map', [['dpdk-devargs', '0000:03:00.0,representor=vf3']]],
      },
    });
  });

  it.each([
    ['a name longer than IFNAMSIZ', { name: 'a-very-long-name0' }, 'name'],
    ['a name with a slash', { name: 'a/b' }, 'name'],
    ['an empty bridge', { bridge: '' }, 'bridge'],
    ['a bad type', { type: 'Intern al' }, 'type'],
    ['a VLAN tag above 4095', { tag: 4096 }, 'tag'],
    ['ofport_request 0', { ofportRequest: 0 }, 'ofportRequest'],
    ['a fractional MTU', { mtuRequest: 1500.5 }, 'mtuRequest'],
    [
      'a non-string external id',
      { interfaceExternalIds: { ip: 1 as unknown as string } },
      'interfaceExternalIds.ip',
    ],
    [
      'another owner in external_ids',
      { interfaceExternalIds: { [OWNER_KEY]: 'node-b' } },
      `interfaceExternalIds.${OWNER_KEY}`,
    ],
  ])('refuses %s before sending anything', async (_n, patch, field) => {
    const t = new FakeTransport(okAttach);
    const vs = new Vswitch(t, { owner: 'node-a' });
    const e = await vs.attachPort({ ...base, ...patch }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InvalidInputError);
    expect((e as InvalidInputError).field).toBe(field);
    expect(t.txns).toHaveLength(0);
  });

  it('reports a missing bridge as NotFoundError (the guard failed, nothing committed)', async () => {
    const t = new FakeTransport(() => {
      throw new OvsdbError('wait', 'timed out', '"where" clause test failed', {
        context: 'transact Open_vSwitch',
        index: 0,
      });
    });
    const e = await new Vswitch(t, { owner: 'n' }).attachPort(base).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NotFoundError);
    expect((e as Error).message).toBe(
      'attach port enp3s0f0_2 to br-int: bridge br-int does not exist',
    );
  });

  const indexConflict = () =>
    new OvsdbError(
      'commit',
      'constraint violation',
      'Transaction causes multiple rows in "Port" table to have identical values (p) for index on column "name".',
      {
        context: 'transact Open_vSwitch',
      },
    );

  /** A topology read: bridges, ports, interfaces. */
  const topo = (bridge: string) => [
    { rows: [{ _uuid: ['uuid', U(9)], name: bridge, ports: ['uuid', U(2)] }] },
    {
      rows: [
        {
          _uuid: ['uuid', U(2)],
          name: 'enp3s0f0_2',
          interfaces: ['uuid', U(1)],
          external_ids: ['map', []],
        },
      ],
    },
    {
      rows: [
        {
          _uuid: ['uuid', U(1)],
          name: 'enp3s0f0_2',
          type: '',
          ofport: 3,
          error: ['set', []],
          external_ids: ['map', []],
        },
      ],
    },
  ];

  it('is a no-op when the port is already on that bridge (--may-exist)', async () => {
    const t = new FakeTransport((_ops, n) => {
      if (n === 0) throw indexConflict();
      return topo('br-int');
    });
    const r = await new Vswitch(t, { owner: 'n' }).attachPort(base);
    expect(r).toEqual({ portUuid: U(2), interfaceUuid: U(1), created: false });
    expect(
      t.txns
        .slice(1)
        .flat()
        .every((o) => o.op === 'select'),
    ).toBe(true);
  });

  it('refuses the same name on another bridge with PortConflictError', async () => {
    const t = new FakeTransport((_ops, n) => {
      if (n === 0) throw indexConflict();
      return topo('br-ex');
    });
    const e = await new Vswitch(t, { owner: 'n' }).attachPort(base).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PortConflictError);
    expect((e as Error).message).toBe(
      'attach port enp3s0f0_2 to br-int: port enp3s0f0_2 already exists on bridge br-ex',
    );
  });
});

describe('Vswitch.detachPort', () => {
  const portRow = (ids: [string, string][]) => [
    { rows: [{ _uuid: ['uuid', U(2)], external_ids: ['map', ids] }] },
  ];

  it('refuses a port without our owner key and changes nothing', async () => {
    const t = new FakeTransport(() => portRow([['iface-id', 'x']]));
    const e = await new Vswitch(t, { owner: 'node-a' }).detachPort('eth9').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PortNotOwnedError);
    expect(e).toMatchObject({ port: 'eth9', foundOwner: null, owner: 'node-a' });
    expect(t.txns.flat().map((o) => o.op)).toEqual(['select']);
  });

  it("refuses another node's port", async () => {
    const t = new FakeTransport(() => portRow([[OWNER_KEY, 'node-b']]));
    const e = await new Vswitch(t, { owner: 'node-a' }).detachPort('eth9').catch((x: unknown) => x);
    expect((e as Error).message).toBe(
      'detach port eth9: not owned by node-a (owner is node-b); left untouched',
    );
  });

  it('returns false for a port that does not exist (idempotent DEL)', async () => {
    const t = new FakeTransport(() => [{ rows: [] }]);
    expect(await new Vswitch(t, { owner: 'node-a' }).detachPort('eth9')).toBe(false);
  });

  it('removes our port from its bridge, guarded by "still there and still ours"', async () => {
    const t = new FakeTransport((ops, n) =>
      n === 0 ? portRow([[OWNER_KEY, 'node-a']]) : ops.map(() => ({ count: 1 })),
    );
    expect(await new Vswitch(t, { owner: 'node-a' }).detachPort('eth9')).toBe(true);
    expect(t.txns[1]).toEqual([
      {
        op: 'wait',
        table: 'Port',
        where: [
          ['_uuid', '==', ['uuid', U(2)]],
          ['external_ids', 'includes', ['map', [[OWNER_KEY, 'node-a']]]],
        ],
        columns: ['_uuid'],
        until: '==',
        rows: [{ _uuid: ['uuid', U(2)] }],
        timeout: 0,
      },
      {
        op: 'mutate',
        table: 'Bridge',
        where: [['ports', 'includes', ['set', [['uuid', U(2)]]]]],
        mutations: [['ports', 'delete', ['set', [['uuid', U(2)]]]]],
      },
    ]);
  });
});

describe('Vswitch other_config', () => {
  it('changes only keys that differ, deleting before inserting (map insert keeps old keys)', async () => {
    const t = new FakeTransport((ops) =>
      ops[0]!.op === 'select'
        ? [
            {
              rows: [
                {
                  other_config: [
                    'map',
                    [
                      ['hw-offload', 'false'],
                      ['tc-policy', 'skip_sw'],
                      ['stale', '1'],
                    ],
                  ],
                },
              ],
            },
          ]
        : [{ count: 1 }],
    );
    const vs = new Vswitch(t, { owner: 'n' });
    expect(
      await vs.setOtherConfig({ 'hw-offload': 'true', 'tc-policy': 'skip_sw', stale: null }),
    ).toBe(true);
    expect(t.txns[1]![0]).toEqual({
      op: 'mutate',
      table: 'Open_vSwitch',
      where: [],
      mutations: [
        ['other_config', 'delete', ['set', ['hw-offload', 'stale']]],
        ['other_config', 'insert', ['map', [['hw-offload', 'true']]]],
      ],
    });
    const same = new FakeTransport(() => [
      { rows: [{ other_config: ['map', [['hw-offload', 'true']]] }] },
    ]);
    expect(await new Vswitch(same, { owner: 'n' }).setOtherConfig({ 'hw-offload': 'true' })).toBe(
      false,
    );
    expect(same.txns).toHaveLength(1);
  });

  it.each([
    ['unset', [], { hwOffload: null, tcPolicy: null }],
    [
      'true',
      [
        ['hw-offload', 'true'],
        ['tc-policy', 'skip_hw'],
      ],
      { hwOffload: true, tcPolicy: 'skip_hw' },
    ],
    [
      'anything but "true" (as ovs-vswitchd reads it)',
      [['hw-offload', 'yes']],
      { hwOffload: false, tcPolicy: null },
    ],
  ])('reads the offload config: %s', async (_n, pairs, want) => {
    const t = new FakeTransport(() => [{ rows: [{ other_config: ['map', pairs] }] }]);
    expect(await new Vswitch(t, { owner: 'n' }).getOffloadConfig()).toEqual(want);
  });
});

describe('Vswitch.findStalePorts', () => {
  it('flags owned ports whose device is gone or whose pod netns vanished', async () => {
    const row = (n: number, name: string, error: string | null, netns: string) => ({
      _uuid: ['uuid', U(n)],
      name,
      type: '',
      ofport: error ? -1 : n,
      error: error ?? ['set', []],
      external_ids: [
        'map',
        [
          [OWNER_KEY, 'node-a'],
          ['pod_netns', netns],
        ],
      ],
    });
    const t = new FakeTransport(() => [
      {
        rows: [
          {
            _uuid: ['uuid', U(99)],
            name: 'br-int',
            ports: [
              'set',
              [
                ['uuid', U(11)],
                ['uuid', U(12)],
                ['uuid', U(13)],
              ],
            ],
          },
        ],
      },
      {
        rows: [11, 12, 13].map((n) => ({
          _uuid: ['uuid', U(n)],
          name: `rep${n}`,
          interfaces: ['uuid', U(n + 10)],
          external_ids: ['map', [[OWNER_KEY, 'node-a']]],
        })),
      },
      {
        rows: [
          row(21, 'rep11', 'could not open network device rep11 (No such device)', '/run/netns/a'),
          row(22, 'rep12', null, '/run/netns/gone'),
          row(23, 'rep13', null, '/run/netns/alive'),
        ],
      },
    ]);
    const stale = await new Vswitch(t, { owner: 'node-a' }).findStalePorts({
      netnsExists: async (p) => p !== '/run/netns/gone',
    });
    expect(stale.map((s) => [s.name, s.reason])).toEqual([
      ['rep11', 'device-gone'],
      ['rep12', 'netns-gone'],
    ]);
    expect(t.txns[0]![1]).toMatchObject({
      where: [['external_ids', 'includes', ['map', [[OWNER_KEY, 'node-a']]]]],
    });
  });
});
