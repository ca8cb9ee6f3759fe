import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRetryable, OvsdbDisconnectedError, OvsdbError } from '../../src/ovs/errors.js';
import {
  OvsdbClient,
  RowCache,
  columnKinds,
  stringValue,
  type MonitorEvent,
  type Operation,
} from '../../src/ovs/ovsdb/index.js';
import { Vswitch } from '../../src/ovs/vswitch.js';
import { startOvs, type OvsInstance, type Sandbox } from '../../src/sandbox/index.js';
import { eventually, newSandbox } from '../helpers/sandbox.js';

/** The OVSDB client against a real ovsdb-server: protocol, failures, reconnects, tcp. */

const FAST_RECONNECT = { backoff: { initialMs: 50, maxMs: 400 } };

/** A transaction the server holds open: a wait for a bridge nobody creates. */
const blocked = (ms: number): Operation[] => [
  {
    op: 'wait',
    table: 'Bridge',
    where: [['name', '==', 'never-created']],
    columns: ['name'],
    until: '==',
    rows: [{ name: 'never-created' }],
    timeout: ms,
  },
];

const bridgeNames = (cache: RowCache) =>
  [...cache.rows('Bridge').values()].map((r) => stringValue(r.name)).sort();

describe('OvsdbClient against ovsdb-server', () => {
  let sb: Sandbox;
  let ovs: OvsInstance;

  beforeAll(async () => {
    sb = await newSandbox();
    ovs = await startOvs(sb);
    await ovs.addBridge('br-int');
  });

  it('lists databases, reads the schema and checks real transaction errors', async () => {
    const client = await OvsdbClient.connect(ovs.dbTarget);
    try {
      expect(await client.listDbs()).toContain('Open_vSwitch');
      const schema = await client.getSchema('Open_vSwitch');
      expect(schema.name).toBe('Open_vSwitch');
      expect(columnKinds(schema).Interface?.external_ids).toEqual({ composite: true, map: true });
      // A duplicate bridge name fails at commit (unique index): the extra trailing result.
      const dup = await client
        .transact('Open_vSwitch', [
          { op: 'insert', table: 'Bridge', row: { name: 'br-int' }, 'uuid-name': 'b' },
          {
            op: 'mutate',
            table: 'Open_vSwitch',
            where: [],
            mutations: [['bridges', 'insert', ['named-uuid', 'b']]],
          },
        ])
        .catch((e: unknown) => e);
      expect(dup).toBeInstanceOf(OvsdbError);
      expect(dup).toMatchObject({ op: 'commit', error: 'constraint violation' });
      expect((dup as OvsdbError).isIndexConflict).toBe(true);
      // A failing operation in the middle: its error, not the nulls after it.
      const bad = await client
        .transact('Open_vSwitch', [
          { op: 'comment', comment: 'first' },
          { op: 'select', table: 'NoSuchTable', where: [] },
          { op: 'comment', comment: 'never attempted' },
        ])
        .catch((e: unknown) => e);
      expect(bad).toMatchObject({ op: 'select', index: 1, error: 'syntax error' });
      const unknownDb = await client
        .transact('Nope', [{ op: 'comment', comment: 'x' }])
        .catch((e: unknown) => e);
      expect(unknownDb).toMatchObject({ op: 'transact', error: 'unknown database' });
      expect(isRetryable(unknownDb)).toBe(false);
    } finally {
      await client.close();
    }
  });

  it('survives ovsdb-server being killed mid-transaction: retryable failures, reconnect, monitors resume', async () => {
    const client = await OvsdbClient.connect(ovs.dbTarget, FAST_RECONNECT);
    const vs = new Vswitch(client, { owner: sb.id });
    try {
      const cache = new RowCache(['Bridge'], columnKinds(await client.getSchema('Open_vSwitch')));
      const events: MonitorEvent[] = [];
      await client.monitorCond({
        db: 'Open_vSwitch',
        tables: { Bridge: { columns: ['name'] } },
        onEvent: (e) => {
          events.push(e);
          cache.apply(e);
        },
      });
      expect(bridgeNames(cache)).toEqual(['br-int']);

      // Held by the server until it dies, plus a burst that may or may not get through.
      const held = [1, 2, 3].map(() =>
        client.transact('Open_vSwitch', blocked(60_000)).then(
          () => 'ok',
          (e: unknown) => e,
        ),
      );
      const burst = Array.from({ length: 50 }, (_, i) =>
        vs
          .attachPort({
            bridge: 'br-int',
            name: `k${i}`,
            type: 'internal',
            interfaceExternalIds: {},
          })
          .then(
            () => 'ok',
            (e: unknown) => e,
          ),
      );
      // Replies come in order: once this echo is answered, the held waits are in the server.
      await client.echo();
      await ovs.killOvsdb();

      for (const r of await Promise.all(held)) {
        expect(r).toBeInstanceOf(OvsdbDisconnectedError);
        expect(isRetryable(r)).toBe(true);
        expect((r as Error).message).toMatch(/^transact unix:.*db\.sock: connection lost/);
      }
      for (const r of await Promise.all(burst)) {
        if (r !== 'ok') expect(isRetryable(r), String(r)).toBe(true);
      }
      expect(client.isConnected).toBe(false);
      // A call made while the server is down waits for the reconnect instead of failing.
      const during = client.listDbs({ timeoutMs: 30_000 });

      await ovs.startOvsdb();
      await client.waitConnected(20_000);
      expect(client.connections).toBe(2);
      expect(await during).toContain('Open_vSwitch');
      // The monitor was re-established and re-delivered its initial state.
      await eventually(
        async () => events.filter((e) => e.initial).length === 2,
        10_000,
        'initial state re-delivered',
      );
      expect(bridgeNames(cache)).toEqual(['br-int']);
      await ovs.vsctl(['--no-wait', 'add-br', 'br-after']);
      await eventually(
        async () => bridgeNames(cache).includes('br-after'),
        10_000,
        'update after reconnect',
      );

      // Later calls succeed; an idempotent retry of the burst converges.
      for (let i = 0; i < 50; i++) {
        await vs.attachPort({
          bridge: 'br-int',
          name: `k${i}`,
          type: 'internal',
          interfaceExternalIds: {},
        });
      }
      const ports = (await ovs.vsctl(['list-ports', 'br-int'])).stdout
        .split('\n')
        .filter((p) => /^k\d+$/.test(p));
      expect(ports).toHaveLength(50);
      expect(await vs.waitForOfport('k49', 20_000)).toBeGreaterThan(0);
    } finally {
      await vs.close();
      await client.close();
    }
  });

  describe('over tcp', () => {
    let port: number;

    beforeAll(async () => {
      // A Manager row gives the listener an inactivity probe of 1 s (add-remote would give 5 s).
      await ovs.vsctl([
        '--',
        '--id=@m',
        'create',
        'Manager',
        'target="ptcp:0:127.0.0.1"',
        'inactivity_probe=1000',
        '--',
        'add',
        'Open_vSwitch',
        '.',
        'manager_options',
        '@m',
      ]);
      const log = path.join(ovs.dir, 'ovsdb-server.log');
      port = await eventually(
        async () => {
          const m =
            /ptcp:0:127\.0\.0\.1: listening on port (\d+)|0:127\.0\.0\.1: listening on port (\d+)/.exec(
              await readFile(log, 'utf8'),
            );
          return m ? Number(m[1] ?? m[2]) : 0;
        },
        10_000,
        'ovsdb-server listening on tcp',
      );
    });

    afterAll(async () => {
      await ovs?.vsctl(['clear', 'Open_vSwitch', '.', 'manager_options']);
    });

    it('transacts and monitors over tcp:127.0.0.1:<port>', async () => {
      const client = await OvsdbClient.connect(`tcp:127.0.0.1:${port}`);
      const vs = new Vswitch(client, { owner: sb.id });
      try {
        expect(await client.listDbs()).toContain('Open_vSwitch');
        await vs.attachPort({
          bridge: 'br-int',
          name: 'tcp0',
          type: 'internal',
          interfaceExternalIds: {},
        });
        expect(await vs.waitForOfport('tcp0', 10_000)).toBeGreaterThan(0);
        expect(await vs.detachPort('tcp0')).toBe(true);
      } finally {
        await vs.close();
        await client.close();
      }
    });

    it("answers the server's echo probes and stays connected", async () => {
      const log = path.join(ovs.dir, 'ovsdb-server.log');
      await sb.runner.run(['ovs-appctl', '-t', ovs.ovsdbCtl, 'vlog/set', 'jsonrpc:file:dbg']);
      // Our keepalive off: the server's probes are the only echoes on this connection.
      const client = await OvsdbClient.connect(`tcp:127.0.0.1:${port}`, { keepaliveMs: 0 });
      try {
        const answered = await eventually(
          async () => {
            const text = await readFile(log, 'utf8');
            return /tcp:127\.0\.0\.1:\d+: received reply, result=\[\], id="echo"/.test(text)
              ? text
              : undefined;
          },
          15_000,
          'an echo probe answered',
        );
        expect(answered).toMatch(
          /tcp:127\.0\.0\.1:\d+: send request, method="echo", params=\[\], id="echo"/,
        );
        expect(answered).not.toMatch(/no response to inactivity probe/);
        expect(client.isConnected).toBe(true);
        expect(client.connections).toBe(1);
        expect(await client.listDbs()).toContain('Open_vSwitch');
      } finally {
        await client.close();
        await sb.runner.run(['ovs-appctl', '-t', ovs.ovsdbCtl, 'vlog/set', 'jsonrpc:file:info']);
      }
    });
  });
});
