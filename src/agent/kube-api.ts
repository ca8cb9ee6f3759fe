import { z } from 'zod';
import { KubeClient } from '../sys/kube-client.js';
import { kubeConnection } from '../sys/kube-config.js';

/**
 * The few Kubernetes objects the agent reads, as far as it reads them: a pod's metadata, a
 * pod list's resourceVersion, a Kube-OVN Subnet's MTU. Unknown fields are dropped.
 */
export const PodSchema = z.object({
  metadata: z
    .object({
      name: z.string().optional(),
      namespace: z.string().optional(),
      uid: z.string().optional(),
      resourceVersion: z.string().optional(),
      annotations: z.record(z.string(), z.string()).nullish(),
    })
    .optional(),
});
export type Pod = z.infer<typeof PodSchema>;

export const PodListSchema = z.object({
  metadata: z.object({ resourceVersion: z.string().optional() }).optional(),
  items: z.array(PodSchema).nullish(),
});

/** Kube-OVN's Subnet (subnets.kubeovn.io/v1): `spec.mtu` is an int32 (0 or absent: unset). */
export const SubnetSchema = z.object({
  spec: z.object({ mtu: z.number().int().nullish() }).nullish(),
});

/** Parses an API answer, naming the request when it does not have the expected shape. */
export function parseAnswer<T>(schema: z.ZodType<T>, raw: unknown, what: string): T {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  throw new Error(
    `${what}: unexpected answer (${first?.path.join('.') || '(top level)'}: ${first?.message ?? ''})`,
  );
}

const clients = new Map<string, KubeClient>();

/**
 * One client (one connection pool) per kubeconfig for the whole agent: the pod reads, the
 * patches, the Subnet reads and the pod watch share it. The kubeconfig (or the in-cluster
 * CA and environment) is read here, at start-up, so a bad one fails the start.
 */
export function kubeClient(kubeconfig: string | undefined): KubeClient {
  const key = kubeconfig ?? '';
  let c = clients.get(key);
  if (!c) {
    c = new KubeClient(kubeConnection(kubeconfig));
    clients.set(key, c);
  }
  return c;
}
