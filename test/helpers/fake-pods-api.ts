import { createServer, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';

/**
 * TEST DOUBLE of the Kubernetes API server: just enough of `GET` and merge-`PATCH` on
 * /api/v1/namespaces/{ns}/pods/{name} for the agent's Kube-OVN IP source, over plain HTTP.
 * Tests set pod annotations (as kube-ovn-controller would) and read back what the agent
 * patched.
 */
export class FakePodsApi {
  readonly pods = new Map<string, { annotations: Record<string, string> }>();
  readonly requests: { method: string; url: string; body?: unknown }[] = [];
  private server: Server | null = null;
  port = 0;

  constructor(private readonly host: string) {}

  setAnnotations(namespace: string, name: string, annotations: Record<string, string>): void {
    const pod = this.pods.get(`${namespace}/${name}`) ?? { annotations: {} };
    Object.assign(pod.annotations, annotations);
    this.pods.set(`${namespace}/${name}`, pod);
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const body: unknown = text ? JSON.parse(text) : undefined;
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', body });
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
        send(200, {
          kind: 'Pod',
          apiVersion: 'v1',
          metadata: { name: m[2], namespace: m[1], annotations: pod.annotations },
          spec: { containers: [] },
        });
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
        // client-node refuses plain http unless TLS checks are (pointlessly) disabled too.
        `- name: fake\n  cluster:\n    server: http://${this.host}:${this.port}\n    insecure-skip-tls-verify: true`,
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
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
