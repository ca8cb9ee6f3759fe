import { createServer, type ServerResponse, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';

/**
 * TEST DOUBLE of the Kubernetes API server: just enough of `GET` and merge-`PATCH` on
 * /api/v1/namespaces/{ns}/pods/{name} for the agent's Kube-OVN IP source, and list and
 * watch (`?watch=true`, one JSON event per line) on /api/v1/pods for its pod watch, over
 * plain HTTP. Every pod counts as on the watched node. Tests set pod annotations (as
 * kube-ovn-controller would) and read back what the agent patched; `expireWatches()` plays
 * the API server compacting its history (410 Gone for every older resourceVersion).
 */
export class FakePodsApi {
  readonly pods = new Map<
    string,
    { annotations: Record<string, string>; resourceVersion: number }
  >();
  readonly requests: { method: string; url: string; body?: unknown }[] = [];
  private server: Server | null = null;
  private readonly watchers = new Set<ServerResponse>();
  private rv = 1;
  /** Watches from an older resourceVersion get 410 Gone. */
  private oldestRv = 0;
  port = 0;

  constructor(private readonly host: string) {}

  setAnnotations(namespace: string, name: string, annotations: Record<string, string>): void {
    const key = `${namespace}/${name}`;
    const known = this.pods.get(key);
    const pod = known ?? { annotations: {}, resourceVersion: 0 };
    Object.assign(pod.annotations, annotations);
    pod.resourceVersion = ++this.rv;
    this.pods.set(key, pod);
    this.broadcast(known ? 'MODIFIED' : 'ADDED', namespace, name);
  }

  /** Watches open now (the agent's pod watch holds one). */
  get openWatches(): number {
    return this.watchers.size;
  }

  /** The server compacted its history: open watches get a 410 ERROR event and end. */
  expireWatches(): void {
    this.oldestRv = this.rv + 1;
    for (const w of this.watchers) {
      w.end(JSON.stringify({ type: 'ERROR', object: gone() }) + '\n');
    }
    this.watchers.clear();
  }

  private podObject(namespace: string, name: string): Record<string, unknown> {
    const pod = this.pods.get(`${namespace}/${name}`);
    return {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: {
        name,
        namespace,
        annotations: pod?.annotations ?? {},
        resourceVersion: String(pod?.resourceVersion ?? this.rv),
      },
      spec: { containers: [] },
    };
  }

  private broadcast(type: string, namespace: string, name: string): void {
    const line = JSON.stringify({ type, object: this.podObject(namespace, name) }) + '\n';
    for (const w of this.watchers) w.write(line);
  }

  /** GET /api/v1/pods: the list, or (watch=true) a stream of events from resourceVersion. */
  private listOrWatch(url: URL, res: ServerResponse): void {
    if (url.searchParams.get('watch') !== 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'PodList',
          apiVersion: 'v1',
          metadata: { resourceVersion: String(this.rv) },
          items: [...this.pods.keys()].map((k) => {
            const [ns, name] = k.split('/') as [string, string];
            return this.podObject(ns, name);
          }),
        }),
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const from = Number(url.searchParams.get('resourceVersion') ?? '0');
    if (from < this.oldestRv) {
      res.end(JSON.stringify({ type: 'ERROR', object: gone() }) + '\n');
      return;
    }
    // Events after `from` (this double keeps only the latest version of each pod).
    for (const [k, pod] of this.pods) {
      if (pod.resourceVersion <= from) continue;
      const [ns, name] = k.split('/') as [string, string];
      res.write(JSON.stringify({ type: 'MODIFIED', object: this.podObject(ns, name) }) + '\n');
    }
    this.watchers.add(res);
    res.on('close', () => this.watchers.delete(res));
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const body: unknown = text ? JSON.parse(text) : undefined;
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', body });
        // The kubeconfig below names token "test": a client that does not send it is refused.
        if (req.headers.authorization !== 'Bearer test') {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ kind: 'Status', code: 401, reason: 'Unauthorized' }));
          return;
        }
        const url = new URL(req.url ?? '/', 'http://fake');
        if (req.method === 'GET' && url.pathname === '/api/v1/pods') {
          return this.listOrWatch(url, res);
        }
        const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/?]+)/.exec(req.url ?? '');
        const send = (code: number, obj: unknown) => {
          res.writeHead(code, { 'content-type': 'application/json' });
          res.end(JSON.stringify(obj));
        };
        if (!m) return send(404, { kind: 'Status', code: 404, message: 'not found' });
        const key = `${m[1]}/${m[2]}`;
        if (req.method === 'PATCH') {
          const ann =
            (body as { metadata?: { annotations?: Record<string, string> } })?.metadata
              ?.annotations ?? {};
          this.setAnnotations(m[1]!, m[2]!, ann);
        }
        const pod = this.pods.get(key);
        if (!pod)
          return send(404, {
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            code: 404,
            reason: 'NotFound',
            message: `pods "${m[2]}" not found`,
          });
        send(200, this.podObject(m[1]!, m[2]!));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, this.host, resolve));
    const a = server.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
    this.server = server;
  }

  /** A kubeconfig pointing at this double. */
  async kubeconfig(dir: string): Promise<string> {
    const file = path.join(dir, 'kubeconfig.yaml');
    await writeFile(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: fake\n  cluster:\n    server: http://${this.host}:${this.port}`,
        'users:',
        '- name: fake\n  user:\n    token: test',
        'contexts:',
        '- name: fake\n  context:\n    cluster: fake\n    user: fake',
        'current-context: fake',
        '',
      ].join('\n'),
    );
    return file;
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.end();
    this.watchers.clear();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

function gone(): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    message: 'too old resource version',
    reason: 'Expired',
    code: 410,
  };
}
