import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InvalidInputError } from './errors.js';

/** Where the kubelet mounts a pod's service account (token, ca.crt, namespace). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** How to reach and authenticate to the API server: what a kubeconfig or the pod gives. */
export interface KubeConnection {
  server: URL;
  /** PEM trust anchors; absent: the system's. */
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecureSkipTlsVerify: boolean;
  tlsServerName?: string;
  /** A fixed bearer token. */
  token?: string;
  /**
   * A token file read again as it ages: the kubelet rotates projected service-account tokens
   * (bound tokens expire, an hour by default), so a token read once at start stops working.
   */
  tokenFile?: string;
  basic?: { username: string; password: string };
  /** Where the requests come from, for messages ("in-cluster", the kubeconfig path). */
  source: string;
}

const str = z.string().min(1);

/** The kubeconfig fields we read; anything else (extensions, preferences) is ignored. */
const KubeconfigSchema = z.object({
  'current-context': z.string().optional(),
  clusters: z
    .array(
      z.object({
        name: str,
        cluster: z.object({
          server: str,
          'certificate-authority': str.optional(),
          'certificate-authority-data': str.optional(),
          'insecure-skip-tls-verify': z.boolean().optional(),
          'tls-server-name': str.optional(),
        }),
      }),
    )
    .nullish(),
  users: z
    .array(
      z.object({
        name: str,
        user: z
          .object({
            token: str.optional(),
            tokenFile: str.optional(),
            'client-certificate': str.optional(),
            'client-certificate-data': str.optional(),
            'client-key': str.optional(),
            'client-key-data': str.optional(),
            username: z.string().optional(),
            password: z.string().optional(),
            exec: z.unknown().optional(),
            'auth-provider': z.unknown().optional(),
          })
          .nullish(),
      }),
    )
    .nullish(),
  contexts: z
    .array(
      z.object({ name: str, context: z.object({ cluster: str, user: z.string().optional() }) }),
    )
    .nullish(),
});

function readFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new InvalidInputError(what, `cannot read ${file}: ${(err as Error).message}`);
  }
}

/** `<x>-data` (base64) or the file `<x>` (relative to the kubeconfig's folder, as kubectl reads it). */
function material(
  data: string | undefined,
  file: string | undefined,
  base: string,
  what: string,
): Buffer | undefined {
  if (data !== undefined) return Buffer.from(data, 'base64');
  if (file !== undefined) return readFile(path.resolve(base, file), what);
  return undefined;
}

function serverUrl(text: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidInputError(what, `server ${JSON.stringify(text)} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new InvalidInputError(what, `server ${text}: only https:// and http:// are supported`);
  return url;
}

/**
 * The connection a kubeconfig's current context names: server, CA (or
 * insecure-skip-tls-verify), and a token, token file, client certificate or basic credentials.
 * exec and auth-provider plugins are refused: they would run programs from the agent.
 */
export function kubeconfigConnection(file: string): KubeConnection {
  const what = `kubernetes.kubeconfig ${file}`;
  let raw: unknown;
  try {
    raw = parseYaml(readFile(file, what).toString('utf8'));
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    throw new InvalidInputError(what, `not YAML: ${(err as Error).message}`);
  }
  const r = KubeconfigSchema.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new InvalidInputError(what, `${first?.path.join('.') ?? ''}: ${first?.message ?? ''}`);
  }
  const kc = r.data;
  const contexts = kc.contexts ?? [];
  const ctxName = kc['current-context'] || contexts[0]?.name;
  const ctx = contexts.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new InvalidInputError(what, `no context ${JSON.stringify(ctxName ?? '')}`);
  const cluster = (kc.clusters ?? []).find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster) throw new InvalidInputError(what, `no cluster ${JSON.stringify(ctx.cluster)}`);
  const user =
    ctx.user === undefined ? undefined : (kc.users ?? []).find((u) => u.name === ctx.user)?.user;
  if (ctx.user && user === undefined)
    throw new InvalidInputError(what, `no user ${JSON.stringify(ctx.user)}`);
  if (user?.exec !== undefined || user?.['auth-provider'] !== undefined)
    throw new InvalidInputError(
      what,
      `user ${ctx.user ?? ''}: exec and auth-provider credentials are not supported (use a token, tokenFile or client certificate)`,
    );
  const base = path.dirname(file);
  const ca = material(
    cluster['certificate-authority-data'],
    cluster['certificate-authority'],
    base,
    what,
  );
  const cert = material(
    user?.['client-certificate-data'],
    user?.['client-certificate'],
    base,
    what,
  );
  const key = material(user?.['client-key-data'], user?.['client-key'], base, what);
  if ((cert === undefined) !== (key === undefined))
    throw new InvalidInputError(
      what,
      'a client certificate needs its key (and the key its certificate)',
    );
  return {
    server: serverUrl(cluster.server, what),
    ...(ca ? { ca } : {}),
    ...(cert && key ? { cert, key } : {}),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] ?? false,
    ...(cluster['tls-server-name'] ? { tlsServerName: cluster['tls-server-name'] } : {}),
    ...(user?.token ? { token: user.token } : {}),
    ...(user?.tokenFile ? { tokenFile: path.resolve(base, user.tokenFile) } : {}),
    ...(user?.username !== undefined && user.password !== undefined
      ? { basic: { username: user.username, password: user.password } }
      : {}),
    source: file,
  };
}

/**
 * The pod's own service account, as client-go's rest.InClusterConfig reads it:
 * KUBERNETES_SERVICE_HOST/PORT, the CA and the (rotated) token the kubelet mounts.
 */
export function inClusterConnection(dir = SERVICE_ACCOUNT_DIR): KubeConnection {
  const what = 'kubernetes (in-cluster)';
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    throw new InvalidInputError(
      what,
      'KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set (not in a pod? set kubernetes.kubeconfig)',
    );
  return {
    server: serverUrl(`https://${host.includes(':') ? `[${host}]` : host}:${port}`, what),
    ca: readFile(path.join(dir, 'ca.crt'), what),
    insecureSkipTlsVerify: false,
    tokenFile: path.join(dir, 'token'),
    source: 'in-cluster',
  };
}

/** A kubeconfig file, or (none given) the in-cluster service account. */
export function kubeConnection(kubeconfig?: string): KubeConnection {
  return kubeconfig ? kubeconfigConnection(kubeconfig) : inClusterConnection();
}
