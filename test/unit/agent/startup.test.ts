import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Startup } from '../../../src/agent/startup.js';
import { createLogger } from '../../../src/sys/index.js';

const logger = createLogger('test', 'silent');

function listen(): Promise<Server> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

const STEPS = ['a', 'b', 'c', 'd'];

/** A start-up whose every step opens a real listener and registers its close. */
async function run(
  abortAt: string | null,
): Promise<{ err: unknown; servers: Server[]; s: Startup }> {
  const ctl = new AbortController();
  const servers: Server[] = [];
  const s = new Startup(logger, ctl.signal, async (name) => {
    if (name === abortAt) ctl.abort(new Error(`SIGTERM at ${name}`));
  });
  let err: unknown = null;
  try {
    for (const name of STEPS) {
      await s.step(name, async () => {
        const srv = await listen();
        servers.push(srv);
        s.onClose(name, () => new Promise<void>((r) => srv.close(() => r())));
      });
    }
    s.checkpoint();
  } catch (e) {
    err = e;
    await s.closeAll(0);
  }
  return { err, servers, s };
}

describe('Startup', () => {
  it.each(STEPS)(
    'a signal before step %s closes everything opened so far, nothing keeps listening',
    async (at) => {
      const { err, servers, s } = await run(at);
      expect(String(err)).toContain(`SIGTERM at ${at}`);
      expect(servers).toHaveLength(STEPS.indexOf(at));
      expect(servers.every((srv) => !srv.listening)).toBe(true);
      expect(s.openParts()).toEqual([]);
    },
  );

  it('without a signal every step runs; closeAll closes newest first and survives a failing close', async () => {
    const { err, s } = await run(null);
    expect(err).toBeNull();
    expect(s.openParts()).toEqual(STEPS);
    const order: string[] = [];
    const t = new Startup(logger);
    t.onClose('x', async () => order.push('x'));
    t.onClose('boom', () => Promise.reject(new Error('close failed')));
    t.onClose('y', async () => order.push('y'));
    await t.closeAll(0);
    expect(order).toEqual(['y', 'x']);
    await s.closeAll(0);
    // Idempotent: a second stop waits for the first and does nothing more.
    await s.closeAll(0);
  });
});
