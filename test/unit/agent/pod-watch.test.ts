import { describe, expect, it } from 'vitest';
import {
  PodWatcher,
  type PodInfo,
  type PodWatchHandlers,
  type PodWatchSource,
} from '../../../src/agent/pod-watch.js';
import { Backoff, createLogger } from '../../../src/sys/index.js';

/** A PodWatchSource double: the test drives each watch's events and its end. */
class FakeSource implements PodWatchSource {
  pods: PodInfo[] = [];
  rv = 10;
  lists = 0;
  failLists = 0;
  readonly watches: { from: string; h: PodWatchHandlers; aborted: boolean }[] = [];

  list() {
    this.lists++;
    if (this.failLists > 0) {
      this.failLists--;
      return Promise.reject(new Error('connect ECONNREFUSED'));
    }
    return Promise.resolve({ resourceVersion: String(this.rv), pods: this.pods });
  }

  watch(from: string, h: PodWatchHandlers) {
    const w = { from, h, aborted: false };
    this.watches.push(w);
    return Promise.resolve({
      abort: () => {
        if (w.aborted) return;
        w.aborted = true;
        h.done(new Error('aborted'));
      },
    });
  }

  get current() {
    return this.watches.at(-1)!;
  }
}

const pod = (name: string, annotations: Record<string, string>, rv: number) => ({
  metadata: {
    namespace: 'default',
    name,
    uid: `uid-${name}`,
    annotations,
    resourceVersion: String(rv),
  },
});

async function until(fn: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!fn()) {
    if (Date.now() - start > 3000) throw new Error(`${what}: not within 3 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function setup() {
  const source = new FakeSource();
  const seen: string[] = [];
  const w = new PodWatcher(
    source,
    async (p) => {
      seen.push(`${p.name}:${p.annotations.rate ?? '-'}`);
    },
    createLogger('test', 'silent'),
    new Backoff({ initialMs: 5, maxMs: 20, jitter: 0 }),
  );
  return { source, seen, w };
}

describe('PodWatcher', () => {
  it('lists, then watches from the list resourceVersion; delivers only changed annotations, in order', async () => {
    const { source, seen, w } = setup();
    source.pods = [{ namespace: 'default', name: 'a', uid: 'uid-a', annotations: { rate: '1' } }];
    w.start();
    await until(() => source.watches.length === 1, 'first watch');
    expect(source.current.from).toBe('10');
    source.current.h.event('MODIFIED', pod('a', { rate: '1' }, 11)); // status-only change
    source.current.h.event('MODIFIED', pod('a', { rate: '2' }, 12));
    source.current.h.event('ADDED', pod('b', { rate: '5' }, 13));
    source.current.h.event('BOOKMARK', { metadata: { resourceVersion: '14' } });
    await until(() => seen.length === 3, 'deliveries');
    expect(seen).toEqual(['a:1', 'a:2', 'b:5']);
    // the server ends the watch: resumed from the last resourceVersion, no relist
    source.current.h.done(null);
    await until(() => source.watches.length === 2, 'resumed watch');
    expect(source.current.from).toBe('14');
    expect(source.lists).toBe(1);
    await w.close();
  });

  it('relists on a 410 Gone ERROR event and on a 410 response', async () => {
    const { source, w } = setup();
    w.start();
    await until(() => source.watches.length === 1, 'first watch');
    source.rv = 20;
    source.current.h.event('ERROR', { kind: 'Status', code: 410, reason: 'Expired' });
    await until(() => source.watches.length === 2, 'watch after relist');
    expect(source.lists).toBe(2);
    expect(source.current.from).toBe('20');
    source.rv = 30;
    source.current.h.done(Object.assign(new Error('Gone'), { statusCode: 410 }));
    await until(() => source.watches.length === 3, 'watch after second relist');
    expect(source.lists).toBe(3);
    expect(source.current.from).toBe('30');
    await w.close();
  });

  it('retries a failing API with backoff until it answers', async () => {
    const { source, seen, w } = setup();
    source.failLists = 3;
    source.pods = [{ namespace: 'default', name: 'a', uid: null, annotations: { rate: '7' } }];
    w.start();
    await until(() => source.watches.length === 1, 'watch once the API answers');
    expect(source.lists).toBe(4);
    await until(() => seen.length === 1, 'delivery');
    expect(seen).toEqual(['a:7']);
    await w.close();
  });

  it('delivers a pod again when asked (an ADD completed) and a failed delivery on its next event', async () => {
    const source = new FakeSource();
    let fail = true;
    const seen: string[] = [];
    const w = new PodWatcher(
      source,
      async (p) => {
        seen.push(p.annotations.rate ?? '-');
        if (fail) throw new Error('OVSDB reconnecting');
      },
      createLogger('test', 'silent'),
      new Backoff({ initialMs: 5, maxMs: 20, jitter: 0 }),
    );
    w.start();
    await until(() => source.watches.length === 1, 'watch');
    source.current.h.event('MODIFIED', pod('a', { rate: '3' }, 11));
    await until(() => seen.length === 1, 'first try');
    fail = false;
    source.current.h.event('MODIFIED', pod('a', { rate: '3' }, 12));
    await until(() => seen.length === 2, 'retried on the next event');
    w.redeliver('default', 'a');
    await until(() => seen.length === 3, 'redelivered');
    expect(w.pod('default', 'a')?.annotations).toEqual({ rate: '3' });
    source.current.h.event('DELETED', pod('a', { rate: '3' }, 13));
    await until(() => w.pod('default', 'a') === undefined, 'forgotten');
    await w.close();
    expect(source.current.aborted).toBe(true);
  });
});
