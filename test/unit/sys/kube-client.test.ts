import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { KubeApiError, KubeClient } from '../../../src/sys/kube-client.js';
import {
  inClusterConnection,
  kubeconfigConnection,
  type KubeConnection,
} from '../../../src/sys/kube-config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'kube-client-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let server: Server | null = null;
let client: KubeClient | null = null;
afterEach(async () => {
  client?.close();
  client = null;
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

async function serve(handler: Handler): Promise<KubeConnection> {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  return {
    server: new URL(`http://127.0.0.1:${port}`),
    insecureSkipTlsVerify: false,
    token: 't0k',
    source: 'test',
  };
}

const json = (res: ServerResponse, code: number, obj: unknown) => {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(obj));
};

describe('KubeClient', () => {
  it('sends the bearer token, the query and a merge patch; returns the JSON answer', async () => {
    const seen: { method?: string; url?: string; auth?: string; type?: string; body: string }[] =
      [];
    const conn = await serve((req, body, res) => {
      seen.push({
        method: req.method,
        url: req.url,
        auth: req.headers.authorization,
        type: req.headers['content-type'],
        body,
      });
      json(res, 200, { metadata: { name: 'p' } });
    });
    client = new KubeClient(conn);
    await expect(
      client.request('GET', '/api/v1/pods', { query: { fieldSelector: 'spec.nodeName=n1' } }),
    ).resolves.toEqual({ metadata: { name: 'p' } });
    await client.request('PATCH', '/api/v1/namespaces/a/pods/p', {
      body: { metadata: { annotations: { k: 'v' } } },
      contentType: 'application/merge-patch+json',
    });
    expect(seen).toEqual([
      {
        method: 'GET',
        url: '/api/v1/pods?fieldSelector=spec.nodeName%3Dn1',
        auth: 'Bearer t0k',
        type: undefined,
        body: '',
      },
      {
        method: 'PATCH',
        url: '/api/v1/namespaces/a/pods/p',
        auth: 'Bearer t0k',
        type: 'application/merge-patch+json',
        body: '{"metadata":{"annotations":{"k":"v"}}}',
      },
    ]);
  });

  it("turns the server's Status into a KubeApiError with code and reason", async () => {
    const conn = await serve((_req, _body, res) =>
      json(res, 404, {
        kind: 'Status',
        code: 404,
        reason: 'NotFound',
        message: 'pods "p" not found',
      }),
    );
    client = new KubeClient(conn);
    const err = await client.request('GET', '/api/v1/namespaces/a/pods/p').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).statusCode).toBe(404);
    expect((err as KubeApiError).reason).toBe('NotFound');
    expect((err as Error).message).toBe(
      'GET /api/v1/namespaces/a/pods/p: 404 NotFound: pods "p" not found',
    );
  });

  it('refuses an answer that is not JSON', async () => {
    const conn = await serve((_req, _body, res) => {
      res.writeHead(200);
      res.end('<html>proxy</html>');
    });
    client = new KubeClient(conn);
    await expect(client.request('GET', '/api/v1/pods')).rejects.toThrow(/not JSON/);
  });

  it('reads a token file again once it has aged (rotated service-account tokens)', async () => {
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, 'first\n');
    const auths: (string | undefined)[] = [];
    const conn = await serve((req, _body, res) => {
      auths.push(req.headers.authorization);
      json(res, 200, {});
    });
    client = new KubeClient({ ...conn, token: undefined, tokenFile });
    await client.request('GET', '/x');
    writeFileSync(tokenFile, 'second\n');
    await client.request('GET', '/x'); // still cached
    const realNow = Date.now;
    Date.now = () => realNow() + 120_000;
    try {
      await client.request('GET', '/x');
    } finally {
      Date.now = realNow;
    }
    expect(auths).toEqual(['Bearer first', 'Bearer first', 'Bearer second']);
  });

  it('watch: delivers each line as an event, split anywhere, and ends with null', async () => {
    const conn = await serve((req, _body, res) => {
      expect(req.url).toBe('/api/v1/pods?resourceVersion=5&watch=true');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"MOD');
      setTimeout(() => res.end('IFIED","object":{"metadata":{"name":"b"}}}\n'), 20);
    });
    client = new KubeClient(conn);
    const events: [string, unknown][] = [];
    const done = new Promise<Error | null>((resolve) => {
      void client!.watch(
        '/api/v1/pods',
        { resourceVersion: '5' },
        (type, obj) => events.push([type, obj]),
        resolve,
      );
    });
    await expect(done).resolves.toBeNull();
    expect(events).toEqual([
      ['ADDED', { metadata: { name: 'a' } }],
      ['MODIFIED', { metadata: { name: 'b' } }],
    ]);
  });

  it('watch: a refused watch rejects with the status code (410 Gone: relist)', async () => {
    const conn = await serve((_req, _body, res) =>
      json(res, 410, { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' }),
    );
    client = new KubeClient(conn);
    const err = await client
      .watch(
        '/api/v1/pods',
        {},
        () => undefined,
        () => undefined,
      )
      .catch((e: unknown) => e);
    expect((err as KubeApiError).statusCode).toBe(410);
  });

  it('watch: a line that is not an event ends the watch with an error; abort ends it once', async () => {
    const conn = await serve((_req, _body, res) => {
      res.writeHead(200);
      res.write('{"type":"ADDED","object":{}}\n');
      res.write('garbage\n');
    });
    client = new KubeClient(conn);
    const ends: (Error | null)[] = [];
    const h = await client.watch(
      '/w',
      {},
      () => undefined,
      (e) => ends.push(e),
    );
    await new Promise((r) => setTimeout(r, 100));
    h.abort();
    expect(ends).toHaveLength(1);
    expect(ends[0]?.message).toMatch(/not JSON/);
  });
});

describe('kubeconfigConnection', () => {
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  it('reads the current context: server, CA data, token file relative to the kubeconfig', () => {
    const ca = Buffer.from('-----BEGIN CERTIFICATE-----\nx\n').toString('base64');
    const f = write(
      'kc1.yaml',
      [
        'apiVersion: v1',
        'kind: Config',
        'current-context: b',
        'clusters:',
        '- name: c1',
        '  cluster: {server: "https://10.0.0.1:6443"}',
        '- name: c2',
        `  cluster: {server: "https://[fd00::1]:6443", certificate-authority-data: ${ca}}`,
        'users:',
        '- name: u2',
        '  user: {tokenFile: tok}',
        'contexts:',
        '- {name: a, context: {cluster: c1, user: u2}}',
        '- {name: b, context: {cluster: c2, user: u2}}',
      ].join('\n'),
    );
    const c = kubeconfigConnection(f);
    expect(c.server.href).toBe('https://[fd00::1]:6443/');
    expect(c.ca?.toString()).toMatch(/BEGIN CERTIFICATE/);
    expect(c.tokenFile).toBe(path.join(dir, 'tok'));
    expect(c.insecureSkipTlsVerify).toBe(false);
  });

  it('refuses exec credentials, a missing context and a certificate without its key', () => {
    const base = [
      'clusters: [{name: c, cluster: {server: "https://k:6443"}}]',
      'contexts: [{name: x, context: {cluster: c, user: u}}]',
      'current-context: x',
    ];
    expect(() =>
      kubeconfigConnection(
        write('kc2.yaml', [...base, 'users: [{name: u, user: {exec: {command: aws}}}]'].join('\n')),
      ),
    ).toThrow(/exec and auth-provider credentials are not supported/);
    expect(() =>
      kubeconfigConnection(
        write(
          'kc3.yaml',
          [...base.slice(0, 2), 'current-context: nope', 'users: [{name: u, user: {}}]'].join('\n'),
        ),
      ),
    ).toThrow(/no context "nope"/);
    expect(() =>
      kubeconfigConnection(
        write(
          'kc4.yaml',
          [...base, 'users: [{name: u, user: {client-certificate-data: eA==}}]'].join('\n'),
        ),
      ),
    ).toThrow(/needs its key/);
    expect(() => kubeconfigConnection(path.join(dir, 'absent.yaml'))).toThrow(/cannot read/);
  });
});

describe('inClusterConnection', () => {
  it('reads the service host/port (IPv6 bracketed), the CA and names the token file', () => {
    const sa = mkdtempSync(path.join(dir, 'sa-'));
    writeFileSync(path.join(sa, 'ca.crt'), 'PEM');
    const saved = { ...process.env };
    try {
      process.env.KUBERNETES_SERVICE_HOST = 'fd00::1';
      process.env.KUBERNETES_SERVICE_PORT = '443';
      const c = inClusterConnection(sa);
      expect(c.server.href).toBe('https://[fd00::1]/');
      expect(c.ca?.toString()).toBe('PEM');
      expect(c.tokenFile).toBe(path.join(sa, 'token'));
      delete process.env.KUBERNETES_SERVICE_HOST;
      expect(() => inClusterConnection(sa)).toThrow(/KUBERNETES_SERVICE_HOST/);
    } finally {
      process.env = saved;
    }
  });
});
