import { Backoff, errorMessage, sleep, type Logger } from '../sys/index.js';
import { kubeClient, parseAnswer, PodListSchema, PodSchema, type Pod } from './kube-api.js';

/** What the agent needs of a pod on this node. */
export interface PodInfo {
  namespace: string;
  name: string;
  uid: string | null;
  annotations: Record<string, string>;
}

export interface PodWatchHandlers {
  /** ADDED, MODIFIED, DELETED, BOOKMARK or ERROR, with the object the server sent. */
  event(type: string, obj: unknown): void;
  /** The watch ended: the server closed it (null), or an error. */
  done(err: unknown): void;
}

/**
 * The pods API as the pod watch uses it: a list (its resourceVersion starts the watch) and a
 * watch from a resourceVersion, both restricted to this node's pods. Injected in tests.
 */
export interface PodWatchSource {
  list(): Promise<{ resourceVersion: string; pods: PodInfo[] }>;
  /** Starts a watch; the returned handle stops it (done is then called with an abort error). */
  watch(resourceVersion: string, handlers: PodWatchHandlers): Promise<{ abort(): void }>;
}

/** The pod's identity and annotations; null for an object that is not a named pod. */
export function podInfo(raw: unknown): PodInfo | null {
  const r = PodSchema.safeParse(raw);
  return r.success ? podInfoOf(r.data) : null;
}

function podInfoOf(p: Pod): PodInfo | null {
  const m = p.metadata;
  if (!m?.name || !m.namespace) return null;
  return {
    namespace: m.namespace,
    name: m.name,
    uid: m.uid ?? null,
    annotations: m.annotations ?? {},
  };
}

/** The resourceVersion of a watch event's object (a pod, a BOOKMARK), if it has one. */
function resourceVersionOf(raw: unknown): string | undefined {
  const r = PodSchema.safeParse(raw);
  return r.success ? r.data.metadata?.resourceVersion : undefined;
}

/**
 * This node's pods: list and watch on /api/v1/pods with fieldSelector spec.nodeName=<node>
 * (the agent needs `list` and `watch` on pods).
 */
export function kubernetesPodWatchSource(
  kubeconfig: string | undefined,
  nodeName: string,
): PodWatchSource {
  const api = kubeClient(kubeconfig);
  const fieldSelector = `spec.nodeName=${nodeName}`;
  return {
    async list() {
      const l = parseAnswer(
        PodListSchema,
        await api.request('GET', '/api/v1/pods', { query: { fieldSelector } }),
        'GET /api/v1/pods',
      );
      return {
        resourceVersion: l.metadata?.resourceVersion ?? '',
        pods: (l.items ?? []).flatMap((p) => podInfoOf(p) ?? []),
      };
    },
    watch(resourceVersion, h) {
      return api.watch(
        '/api/v1/pods',
        { fieldSelector, resourceVersion, allowWatchBookmarks: true },
        (type, obj) => h.event(type, obj),
        (err) => h.done(err),
      );
    },
  };
}

/** The resourceVersion the watch started from is no longer available (410 Gone): relist. */
class GoneError extends Error {}

function isGone(err: unknown): boolean {
  if (err instanceof GoneError) return true;
  const code = (err as { statusCode?: unknown; code?: unknown } | null)?.statusCode;
  return code === 410;
}

/**
 * Watches this node's pods and hands each one whose annotations changed to `onPod`, one at a
 * time, in order. The informer pattern without the cache: list (every pod is delivered),
 * then watch from the list's resourceVersion; a watch the server ends is resumed from the
 * last resourceVersion seen; 410 Gone (the version was compacted away) relists; any other
 * failure (API down, refused) is retried with the project's Backoff, reset once events flow.
 */
export class PodWatcher {
  private closed = false;
  private readonly stop = new AbortController();
  private handle: { abort(): void } | null = null;
  private loop: Promise<void> | null = null;
  private chain: Promise<void> = Promise.resolve();
  /** The annotations last delivered per pod: unchanged ones are not delivered again. */
  private readonly seen = new Map<string, string>();
  private readonly latest = new Map<string, PodInfo>();
  /** How many times the pods were listed (tests: a 410 relists). */
  lists = 0;

  constructor(
    private readonly source: PodWatchSource,
    private readonly onPod: (pod: PodInfo) => Promise<void>,
    private readonly logger: Logger,
    private readonly backoff = new Backoff({ initialMs: 200, maxMs: 10_000 }),
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** The pod as the watch saw it last (an ADD that just completed re-applies from it). */
  pod(namespace: string, name: string): PodInfo | undefined {
    return this.latest.get(`${namespace}/${name}`);
  }

  /** Delivers a pod again even if its annotations did not change (after an ADD). */
  redeliver(namespace: string, name: string): void {
    const p = this.pod(namespace, name);
    if (p) this.deliver(p, true);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stop.abort(new Error('pod watch closed'));
    this.handle?.abort();
    await this.loop;
    await this.chain;
  }

  private deliver(p: PodInfo, force: boolean): void {
    const k = `${p.namespace}/${p.name}`;
    this.latest.set(k, p);
    const text = JSON.stringify(p.annotations);
    if (!force && this.seen.get(k) === text) return;
    this.seen.set(k, text);
    this.chain = this.chain.then(async () => {
      if (this.closed) return;
      try {
        await this.onPod(p);
      } catch (err) {
        // Not marked as seen: the next event (or relist) of this pod tries again.
        if (this.seen.get(k) === text) this.seen.delete(k);
        this.logger.warn({ pod: k, err: errorMessage(err) }, 'pod update not applied');
      }
    });
  }

  private forget(p: PodInfo): void {
    const k = `${p.namespace}/${p.name}`;
    this.seen.delete(k);
    this.latest.delete(k);
  }

  private async run(): Promise<void> {
    let rv: string | null = null;
    while (!this.closed) {
      try {
        if (rv === null) {
          const l = await this.source.list();
          this.lists++;
          rv = l.resourceVersion;
          for (const p of l.pods) this.deliver(p, false);
          this.logger.debug({ pods: l.pods.length, resourceVersion: rv }, 'pods listed');
        }
        const r = await this.watchOnce(rv);
        rv = r.resourceVersion;
        if (r.events > 0) this.backoff.reset();
        if (r.err !== null && !this.closed) throw r.err;
        // A watch the server ended at once, without a word, is not resumed in a hot loop.
        if (r.events === 0 && !this.closed) await sleep(this.backoff.next(), this.stop.signal);
      } catch (err) {
        if (this.closed) break;
        if (isGone(err)) {
          this.logger.info({ resourceVersion: rv }, 'pod watch expired (410 Gone): relisting');
          rv = null;
          continue;
        }
        const delay = this.backoff.next();
        this.logger.warn({ err: errorMessage(err), retryInMs: delay }, 'pod watch failed');
        await sleep(delay, this.stop.signal).catch(() => undefined);
      }
    }
  }

  /** One watch, until it ends: the last resourceVersion, the events seen, and why it ended. */
  private watchOnce(
    from: string,
  ): Promise<{ resourceVersion: string; events: number; err: Error | null }> {
    return new Promise((resolve) => {
      let rv = from;
      let events = 0;
      let gone = false;
      let ended = false;
      const finish = (err: unknown) => {
        if (ended) return;
        ended = true;
        this.handle = null;
        gone ||= isGone(err);
        const error =
          err === null || err === undefined
            ? null
            : err instanceof Error
              ? err
              : new Error(errorMessage(err));
        resolve({ resourceVersion: rv, events, err: gone ? new GoneError('410 Gone') : error });
      };
      this.source
        .watch(from, {
          event: (type, obj) => {
            if (type === 'ERROR') {
              // A Status object: 410 means our resourceVersion is too old.
              if ((obj as { code?: unknown } | null)?.code === 410) gone = true;
              else this.logger.warn({ status: obj }, 'pod watch error event');
              this.handle?.abort();
              return;
            }
            const version = resourceVersionOf(obj);
            if (version) rv = version;
            events++;
            if (type === 'BOOKMARK') return;
            const p = podInfo(obj);
            if (!p) return;
            if (type === 'DELETED') this.forget(p);
            else this.deliver(p, false);
          },
          done: (err) => finish(err ?? null),
        })
        .then(
          (h) => {
            if (ended || this.closed) h.abort();
            else this.handle = h;
          },
          (err: unknown) => finish(err),
        );
    });
  }
}
