import { parentPort } from 'node:worker_threads';
import { runExeca } from './command.js';
import type { SpawnMessage, SpawnReply } from './spawn-pool.js';

/**
 * The worker thread behind ThreadedRunner (dist/spawn-worker.js): runs each command it is
 * sent with execa and posts back how it ended. libuv blocks the thread that spawns until the
 * child has exec'd; here that is this thread, not the agent's.
 */
const port = parentPort;
if (port) {
  const running = new Map<number, AbortController>();
  port.on('message', (m: SpawnMessage) => {
    if (m.kind === 'cancel') {
      running.get(m.id)?.abort();
      return;
    }
    const ac = new AbortController();
    running.set(m.id, ac);
    void runExeca(m.file, m.args, { ...m.call, signal: ac.signal }).then((outcome) => {
      running.delete(m.id);
      const reply: SpawnReply = { id: m.id, outcome };
      port.postMessage(reply);
    });
  });
}
