import { afterEach, describe, expect, it } from 'vitest';
import {
  isRetryable,
  OvsdbClosedError,
  OvsdbDisconnectedError,
  OvsdbError,
  OvsdbProtocolError,
  OvsdbTimeoutError,
} from '../../../src/ovs/errors.js';
import {
  OvsdbClient,
  type MonitorEvent,
  type OvsdbClientOptions,
} from '../../../src/ovs/ovsdb/index.js';
import { defaultResponder, FakeOvsdbServer, type Responder } from './fake-ovsdb-server.js';

const U1 = '6d2b6370-d204-4efd-b23f-d71bd3beb297';
const FAST: OvsdbClientOptions = {
  backoff: { initialMs: 5, maxMs: 20, jitter: 0 },
  keepaliveMs: 0,
};

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(
  responder?: Responder,
  opts: OvsdbClientOptions = {},
): Promise<{ server: FakeOvsdbServer; client: OvsdbClient }> {
  const server = await FakeOvsdbServer.start();
  cleanup.push(() => server.close());
  if (responder) server.responder = responder;
  const client = await OvsdbClient.connect(server.endpoint, { ...FAST, ...opts });
  cleanup.push(() => client.close());
  return { server, client };
}

const settle = <T>(p: Promise<T>) =>
  p.then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  );

async function until(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('OvsdbClient: requests and replies', () => {
  it('lists databases and matches replies to requests by id, in any order', async () => {
    const { server, client } = await setup((req, conn) => {
      if (req.method === 'echo') {
        // Answer the first echo only after the second: ids, not order, pair them up.
        if (req.params[0] === 'second') {
          conn.reply(req.id, req.params);
          const first = conn.requests('echo').find((r) => r.params[0] === 'first')!;
          conn.reply(first.id, first.params);
        }
        return undefined;
      }
      return defaultResponder(req, conn);
    });
    expect(await client.listDbs()).toEqual(['Open_vSwitch', '_Server']);
    const a = client.echo(['first']);
    const b = client.echo(['second']);
    expect(await Promise.all([a, b])).toEqual([['first'], ['second']]);
    expect((await server.connection(0)).requests('list_dbs')).toHaveLength(1);
  });

  it('checks the transport error of a reply (JSON-RPC error member)', async () => {
    const { client } = await setup((req) =>
      req.method === 'transact'
        ? {
            error: {
              error: 'unknown database',
              details: 'transact request specifies unknown database Nope',
            },
          }
        : undefined,
    );
    const e = await client
      .transact('Nope', [{ op: 'comment', comment: 'x' }])
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OvsdbError);
    expect(e).toMatchObject({ op: 'transact', error: 'unknown database' });
    expect(isRetryable(e)).toBe(false);
  });

  it.each([
    {
      name: 'a failed operation',
      result: [{}, { error: 'constraint violation', details: 'dup' }],
      want: { op: 'insert', index: 1, error: 'constraint violation' },
    },
    {
      name: 'a commit failure (one result more than operations)',
      result: [{}, { uuid: ['uuid', U1] }, { error: 'referential integrity violation' }],
      want: { op: 'commit', error: 'referential integrity violation' },
    },
  ])('checks every operation result: $name', async ({ result, want }) => {
    const { client } = await setup((req) => (req.method === 'transact' ? { result } : undefined));
    const e = await client
      .transact('Open_vSwitch', [
        { op: 'comment', comment: 'x' },
        { op: 'insert', table: 'Bridge', row: { name: 'b' } },
      ])
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OvsdbError);
    expect(e).toMatchObject(want);
  });

  it('treats a reply with fewer results than operations as an error', async () => {
    const { client } = await setup((req) =>
      req.method === 'transact' ? { result: [{}] } : undefined,
    );
    const e = await client
      .transact('Open_vSwitch', [
        { op: 'comment', comment: 'a' },
        { op: 'comment', comment: 'b' },
      ])
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OvsdbProtocolError);
    expect((e as Error).message).toBe(
      'transact Open_vSwitch: reply has 1 results for 2 operations',
    );
  });

  it('answers the server echo probe with its params', async () => {
    const { server, client } = await setup();
    const conn = await server.connection(0);
    conn.send({ id: 'echo', method: 'echo', params: ['probe'] });
    const reply = await conn.waitFor((m) => m.id === 'echo' && 'result' in m);
    expect(reply).toEqual({ id: 'echo', result: ['probe'], error: null });
    expect(client.isConnected).toBe(true);
  });

  it('refuses unknown server requests without dropping the connection', async () => {
    const { server, client } = await setup();
    const conn = await server.connection(0);
    conn.send({ id: 7, method: 'steal', params: [] });
    expect(await conn.waitFor((m) => m.id === 7)).toEqual({
      id: 7,
      result: null,
      error: 'unknown method',
    });
    expect(await client.listDbs()).toHaveLength(2);
  });

  it('times out a request that got no reply (retryable, outcome unknown) and ignores the late reply', async () => {
    const { server, client } = await setup((req, conn) =>
      req.method === 'echo' ? undefined : defaultResponder(req, conn),
    );
    const e = await client.echo(['x'], { timeoutMs: 50 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OvsdbTimeoutError);
    expect(isRetryable(e)).toBe(true);
    const conn = await server.connection(0);
    conn.reply(conn.requests('echo')[0]!.id, ['late']);
    expect(await client.listDbs()).toHaveLength(2);
    expect(client.connections).toBe(1);
  });
});

describe('OvsdbClient: failures and reconnects', () => {
  async function inFlightFailsOn(bytes: string | Buffer): Promise<unknown> {
    const { server, client } = await setup((req, conn) =>
      req.method === 'transact' ? undefined : defaultResponder(req, conn),
    );
    const p = settle(client.transact('Open_vSwitch', [{ op: 'comment', comment: 'x' }]));
    const conn = await server.connection(0);
    await conn.waitFor((m) => m.method === 'transact');
    conn.sendRaw(bytes);
    const r = await p;
    expect(r.ok).toBe(false);
    // The client reconnects by itself and later calls work.
    await server.connection(1);
    expect(await client.listDbs()).toEqual(['Open_vSwitch', '_Server']);
    expect(client.connections).toBe(2);
    return r.ok ? undefined : r.e;
  }

  it('drops the connection on garbage: in-flight calls fail retryable, then it reconnects', async () => {
    const e = await inFlightFailsOn('this is not json');
    expect(e).toBeInstanceOf(OvsdbDisconnectedError);
    expect(isRetryable(e)).toBe(true);
    expect((e as Error).cause).toBeInstanceOf(OvsdbProtocolError);
  });

  it('drops the connection on a 10 MiB message instead of buffering it', async () => {
    const e = await inFlightFailsOn(`{"id":1,"result":"${'x'.repeat(10 * 1024 * 1024)}"}`);
    expect(isRetryable(e)).toBe(true);
    expect(((e as Error).cause as Error).message).toMatch(/message exceeds/);
  });

  it('drops the connection on a well-formed JSON value that is not a JSON-RPC message', async () => {
    const e = await inFlightFailsOn('[1,2,3]');
    expect((e as Error).cause).toBeInstanceOf(OvsdbProtocolError);
  });

  it('fails in-flight calls retryable when the server closes mid-message (truncated JSON)', async () => {
    const { server, client } = await setup((req, conn) =>
      req.method === 'transact' ? undefined : defaultResponder(req, conn),
    );
    const p = settle(client.transact('Open_vSwitch', [{ op: 'comment', comment: 'x' }]));
    const conn = await server.connection(0);
    await conn.waitFor((m) => m.method === 'transact');
    conn.socket.end('{"id":1,"result":[{"cou');
    const r = await p;
    expect(r.ok ? undefined : r.e).toBeInstanceOf(OvsdbDisconnectedError);
    expect(((r.ok ? undefined : r.e) as Error).message).toMatch(
      /connection lost: read ovsdb stream: stream ended inside a message/,
    );
    await server.connection(1);
    expect(await client.listDbs()).toHaveLength(2);
  });

  it('probes an idle server with echo, and drops and reconnects when it stops answering', async () => {
    let answer = true;
    const { server, client } = await setup(
      // A hung server: it accepts requests and never answers any of them.
      (req, conn) => (answer ? defaultResponder(req, conn) : undefined),
      { keepaliveMs: 40, deadPeerMs: 60 },
    );
    const conn = await server.connection(0);
    await conn.waitFor((m) => m.method === 'echo', 1000);
    await new Promise((r) => setTimeout(r, 200));
    expect(client.connections).toBe(1);
    answer = false;
    const p = settle(client.call('transact', ['Open_vSwitch'], { timeoutMs: 5000 }));
    await server.connection(1, 2000);
    const r = await p;
    expect(r.ok ? undefined : r.e).toBeInstanceOf(OvsdbDisconnectedError);
    expect(((r.ok ? undefined : r.e) as Error).message).toMatch(/keepalive echo unanswered/);
  });

  it('does not blame the server for a stall of our own event loop', async () => {
    const { server, client } = await setup(undefined, { keepaliveMs: 40, deadPeerMs: 60 });
    const conn = await server.connection(0);
    // The fake answers the probe at once; we then hog the loop so the answer waits unread
    // while the dead-peer deadline passes.
    await conn.waitFor((m) => m.method === 'echo', 1000);
    const until = Date.now() + 300;
    while (Date.now() < until) {
      /* busy: a long synchronous task in the same process */
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(client.connections).toBe(1);
    expect(client.isConnected).toBe(true);
  });

  it('queues calls made while disconnected and sends them once connected', async () => {
    const { server, client } = await setup();
    const lost = new Promise<void>((r) => client.onDisconnect(() => r()));
    (await server.connection(0)).destroy();
    await lost;
    expect(client.isConnected).toBe(false);
    expect(await client.listDbs()).toHaveLength(2);
    expect((await server.connection(1)).requests('list_dbs')).toHaveLength(1);
  });

  it('fails a queued call retryable when no connection comes in time', async () => {
    const server = await FakeOvsdbServer.start();
    const endpoint = server.endpoint;
    await server.close();
    const client = new OvsdbClient(endpoint, FAST);
    cleanup.push(() => client.close());
    const e = await client.listDbs({ timeoutMs: 100 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OvsdbDisconnectedError);
    expect((e as Error).message).toMatch(
      /^list_dbs unix:.*: not connected after 100 ms: connect ENOENT/,
    );
    expect(isRetryable(e)).toBe(true);
    await expect(OvsdbClient.connect(endpoint, { ...FAST, timeoutMs: 50 })).rejects.toThrow(
      OvsdbDisconnectedError,
    );
  });

  it('close() rejects pending calls (not retryable) and stops reconnecting', async () => {
    const { server, client } = await setup((req, conn) =>
      req.method === 'transact' ? undefined : defaultResponder(req, conn),
    );
    const p = settle(client.transact('Open_vSwitch', []));
    await (await server.connection(0)).waitFor((m) => m.method === 'transact');
    await client.close();
    const r = await p;
    expect(r.ok ? undefined : r.e).toBeInstanceOf(OvsdbClosedError);
    expect(isRetryable(r.ok ? undefined : r.e)).toBe(false);
    await expect(client.listDbs()).rejects.toThrow(OvsdbClosedError);
    await new Promise((res) => setTimeout(res, 60));
    expect(server.connections).toHaveLength(1);
  });
});

describe('OvsdbClient: monitors', () => {
  const initial = { Interface: { [U1]: { new: { name: 'p1', ofport: ['set', []] } } } };

  it('delivers the initial state, then updates, and cancels with monitor_cancel', async () => {
    const { server, client } = await setup((req, conn) =>
      req.method === 'monitor' ? { result: initial } : defaultResponder(req, conn),
    );
    const events: MonitorEvent[] = [];
    const m = await client.monitor({
      db: 'Open_vSwitch',
      tables: { Interface: { columns: ['name', 'ofport'] } },
      onEvent: (e) => events.push(e),
    });
    const conn = await server.connection(0);
    expect(conn.requests('monitor')[0]!.params).toEqual([
      'Open_vSwitch',
      m.id,
      { Interface: [{ columns: ['name', 'ofport'] }] },
    ]);
    conn.send({
      id: null,
      method: 'update',
      params: [m.id, { Interface: { [U1]: { new: { name: 'p1', ofport: 4 } } } }],
    });
    await until(() => events.length === 2);
    expect(events).toEqual([
      { version: 1, initial: true, updates: initial },
      {
        version: 1,
        initial: false,
        updates: { Interface: { [U1]: { new: { name: 'p1', ofport: 4 } } } },
      },
    ]);
    await m.close();
    expect(conn.requests('monitor_cancel')[0]!.params).toEqual([m.id]);
    conn.send({ id: null, method: 'update', params: [m.id, { Interface: {} }] });
    expect(await client.listDbs()).toHaveLength(2);
    expect(events).toHaveLength(2);
  });

  it('does not lose an update that arrives in the same chunk as the monitor reply', async () => {
    const { client } = await setup((req, conn) => {
      if (req.method !== 'monitor_cond') return defaultResponder(req, conn);
      conn.sendRaw(
        JSON.stringify({
          id: req.id,
          result: { Interface: { [U1]: { initial: { name: 'p1' } } } },
          error: null,
        }) +
          JSON.stringify({
            id: null,
            method: 'update2',
            params: [req.params[1], { Interface: { [U1]: { modify: { ofport: 9 } } } }],
          }),
      );
      return undefined;
    });
    const events: MonitorEvent[] = [];
    await client.monitorCond({
      db: 'Open_vSwitch',
      tables: { Interface: {} },
      onEvent: (e) => events.push(e),
    });
    await until(() => events.length === 2);
    expect(events[1]).toEqual({
      version: 2,
      initial: false,
      updates: { Interface: { [U1]: { modify: { ofport: 9 } } } },
    });
  });

  it('re-sends monitors after a reconnect and re-delivers the initial state', async () => {
    let state: unknown = initial;
    const { server, client } = await setup((req, conn) =>
      req.method === 'monitor_cond' ? { result: state } : defaultResponder(req, conn),
    );
    const events: MonitorEvent[] = [];
    const m = await client.monitorCond({
      db: 'Open_vSwitch',
      tables: { Interface: { columns: ['name'], where: [['name', '!=', 'x']] } },
      onEvent: (e) => events.push(e),
    });
    state = {};
    (await server.connection(0)).destroy();
    const conn1 = await server.connection(1);
    const re = (await conn1.waitFor((x) => x.method === 'monitor_cond')) as { params: unknown[] };
    expect(re.params).toEqual([
      'Open_vSwitch',
      m.id,
      { Interface: [{ columns: ['name'], where: [['name', '!=', 'x']] }] },
    ]);
    await until(() => events.length === 2);
    expect(events[1]).toEqual({ version: 2, initial: true, updates: {} });
    conn1.send({
      id: null,
      method: 'update2',
      params: [m.id, { Interface: { [U1]: { insert: { name: 'p2' } } } }],
    });
    await until(() => events.length === 3);
    expect(events[2]!.initial).toBe(false);
  });

  it('ends a monitor the server refuses to re-establish, telling its owner', async () => {
    let refuse = false;
    const { server, client } = await setup((req, conn) =>
      req.method === 'monitor' && refuse
        ? { error: { error: 'unknown database', details: 'gone' } }
        : defaultResponder(req, conn),
    );
    const errors: Error[] = [];
    await client.monitor({
      db: 'Open_vSwitch',
      tables: { Interface: {} },
      onEvent: () => undefined,
      onError: (e) => errors.push(e),
    });
    refuse = true;
    (await server.connection(0)).destroy();
    await until(() => errors.length === 1);
    expect(errors[0]).toBeInstanceOf(OvsdbError);
  });

  it('drops the connection on a malformed update and resynchronises from a fresh initial state', async () => {
    const { server, client } = await setup((req, conn) =>
      req.method === 'monitor' ? { result: initial } : defaultResponder(req, conn),
    );
    const events: MonitorEvent[] = [];
    const m = await client.monitor({
      db: 'Open_vSwitch',
      tables: { Interface: {} },
      onEvent: (e) => events.push(e),
    });
    (await server.connection(0)).send({
      id: null,
      method: 'update',
      params: [m.id, { Interface: { [U1]: 'bogus' } }],
    });
    await server.connection(1);
    await until(() => events.length === 2);
    expect(events.map((e) => e.initial)).toEqual([true, true]);
  });

  it('fails monitor() retryable if the connection dies before its reply', async () => {
    const { server, client } = await setup((req, conn) =>
      req.method === 'monitor' ? undefined : defaultResponder(req, conn),
    );
    const p = settle(
      client.monitor({ db: 'Open_vSwitch', tables: { Interface: {} }, onEvent: () => undefined }),
    );
    const conn = await server.connection(0);
    await conn.waitFor((m) => m.method === 'monitor');
    conn.destroy();
    const r = await p;
    expect(isRetryable(r.ok ? undefined : r.e)).toBe(true);
    // Not registered: nothing is re-sent on the next connection.
    await server.connection(1);
    expect(await client.listDbs()).toHaveLength(2);
    expect(server.connections[1]!.requests('monitor')).toHaveLength(0);
  });
});
