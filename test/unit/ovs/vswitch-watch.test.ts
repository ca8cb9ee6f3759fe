import { describe, expect, it } from 'vitest';
import { InterfaceError, OvsdbClosedError, OvsdbTimeoutError } from '../../../src/ovs/errors.js';
import type {
  DatabaseSchema,
  Monitor,
  MonitorEvent,
  MonitorRequest,
} from '../../../src/ovs/ovsdb/index.js';
import { Vswitch, type OvsdbTransport } from '../../../src/ovs/vswitch.js';

const U1 = '6d2b6370-d204-4efd-b23f-d71bd3beb297';
const U2 = 'a8f09175-8eec-4f66-b423-065d04fabc65';

const schema: DatabaseSchema = {
  name: 'Open_vSwitch',
  tables: {
    Interface: {
      columns: {
        name: { type: 'string' },
        ofport: { type: { key: 'integer', min: 0, max: 1 } },
        error: { type: { key: 'string', min: 0, max: 1 } },
        external_ids: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
      },
    },
    Open_vSwitch: { columns: { cur_cfg: { type: 'integer' } } },
  },
};

/** A transport whose monitor is driven by the test: push(event) as the server would. */
class MonitorDriver implements OvsdbTransport {
  req: MonitorRequest | undefined;
  cancelled = false;
  constructor(private readonly initial: MonitorEvent) {}
  transact(): never {
    throw new Error('not used');
  }
  async getSchema(): Promise<DatabaseSchema> {
    return schema;
  }
  async monitorCond(req: MonitorRequest): Promise<Monitor> {
    this.req = req;
    req.onEvent(this.initial);
    return { id: 'm1', db: req.db, close: async () => void (this.cancelled = true) };
  }
  push(ev: MonitorEvent): void {
    this.req!.onEvent(ev);
  }
}

const v2 = (initial: boolean, updates: Record<string, Record<string, unknown>>) =>
  ({ version: 2, initial, updates }) as MonitorEvent;
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('Vswitch waits (one shared monitor)', () => {
  it('resolves waitForOfport when ovs-vswitchd assigns the ofport', async () => {
    const t = new MonitorDriver(v2(true, { Interface: { [U1]: { initial: { name: 'rep0' } } } }));
    const vs = new Vswitch(t, { owner: 'n' });
    const p = vs.waitForOfport('rep0', 5000);
    await tick();
    t.push(v2(false, { Interface: { [U1]: { modify: { ofport: 7 } } } }));
    expect(await p).toBe(7);
    expect(t.req!.tables).toEqual({
      Interface: { columns: ['name', 'ofport', 'error', 'external_ids'] },
      Open_vSwitch: { columns: ['cur_cfg'] },
    });
  });

  it('rejects with the Interface error when the ofport is -1', async () => {
    const t = new MonitorDriver(v2(true, {}));
    const vs = new Vswitch(t, { owner: 'n' });
    const p = vs.waitForOfport('rep0', 5000).catch((e: unknown) => e);
    await tick();
    t.push(
      v2(false, {
        Interface: {
          [U1]: {
            insert: {
              name: 'rep0',
              ofport: -1,
              error: 'could not open network device rep0 (No such device)',
            },
          },
        },
      }),
    );
    const e = await p;
    expect(e).toBeInstanceOf(InterfaceError);
    expect((e as Error).message).toBe(
      'open interface rep0: could not open network device rep0 (No such device)',
    );
  });

  it('follows a re-delivered initial state after a reconnect (renames and deletions included)', async () => {
    const t = new MonitorDriver(
      v2(true, {
        Interface: { [U1]: { initial: { name: 'old0' } }, [U2]: { initial: { name: 'rep1' } } },
      }),
    );
    const vs = new Vswitch(t, { owner: 'n' });
    const ovn = vs.waitForExternalId('rep1', 'ovn-installed', 'true', 5000);
    const ofport = vs.waitForOfport('new0', 5000);
    await tick();
    // While we were away: old0 went, new0 came with an ofport, rep1 got bound by OVN.
    t.push(
      v2(true, {
        Interface: {
          [U1]: { initial: { name: 'new0', ofport: 3 } },
          [U2]: { initial: { name: 'rep1', external_ids: ['map', [['ovn-installed', 'true']]] } },
        },
      }),
    );
    await expect(ovn).resolves.toBeUndefined();
    expect(await ofport).toBe(3);
    await expect(vs.waitForOfport('old0', 50)).rejects.toBeInstanceOf(OvsdbTimeoutError);
  });

  it('applies external_ids diffs (ovn-installed added by ovn-controller)', async () => {
    const t = new MonitorDriver(
      v2(true, {
        Interface: {
          [U1]: { initial: { name: 'rep0', external_ids: ['map', [['iface-id', 'a.b']]] } },
        },
      }),
    );
    const vs = new Vswitch(t, { owner: 'n' });
    const p = vs.waitForExternalId('rep0', 'ovn-installed', 'true', 5000);
    await tick();
    t.push(
      v2(false, {
        Interface: { [U1]: { modify: { external_ids: ['map', [['ovn-installed', 'true']]] } } },
      }),
    );
    await expect(p).resolves.toBeUndefined();
  });

  it('times out with the wait named, and close() rejects pending waits and cancels the monitor', async () => {
    const t = new MonitorDriver(v2(true, {}));
    const vs = new Vswitch(t, { owner: 'n' });
    await expect(vs.waitForOfport('nope', 30)).rejects.toThrow(
      'wait for ofport of nope: timed out after 30 ms',
    );
    const p = vs.waitForExternalId('nope', 'k', 'v', 5000).catch((e: unknown) => e);
    await tick();
    await vs.close();
    expect(await p).toBeInstanceOf(OvsdbClosedError);
    expect(t.cancelled).toBe(true);
  });
});
