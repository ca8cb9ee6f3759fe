import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { CniIp, CniResult, CniRoute } from '../cni/types.js';
import { errorMessage, InvalidInputError, sleep, type Logger } from '../sys/index.js';
import { TransientError } from './errors.js';
import type { IpSource } from './attach/add.js';
import type { AttachRequest } from './attach/request.js';

/** The two pod operations the Kube-OVN IP source needs. */
export interface PodApi {
  annotations(namespace: string, name: string): Promise<Record<string, string>>;
  annotate(namespace: string, name: string, annotations: Record<string, string>): Promise<void>;
}

/** The pods API through @kubernetes/client-node (in-cluster service account or a kubeconfig). */
export function kubernetesPodApi(kubeconfig?: string): PodApi {
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromCluster();
  const api = kc.makeApiClient(CoreV1Api);
  return {
    async annotations(namespace, name) {
      const pod = await api.readNamespacedPod({ namespace, name });
      return pod.metadata?.annotations ?? {};
    },
    async annotate(namespace, name, annotations) {
      await api.patchNamespacedPod(
        { namespace, name, body: { metadata: { annotations } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    },
  };
}

/** Kube-OVN's annotation key for a provider: `<provider>.kubernetes.io/<what>`. */
export function annotationKey(provider: string, what: string, ifName?: string): string {
  return ifName
    ? `${provider}.${ifName}.kubernetes.io/${what}`
    : `${provider}.kubernetes.io/${what}`;
}

function pick(
  a: Record<string, string>,
  provider: string,
  ifName: string,
  what: string,
): string | undefined {
  return a[annotationKey(provider, what, ifName)] ?? a[annotationKey(provider, what)];
}

/**
 * Turns Kube-OVN's allocation (comma-separated for dual stack: ip_address "10.16.0.5,fd00::5",
 * cidr "10.16.0.0/16,fd00::/112", gateway "10.16.0.1,fd00::1") into a CNI result. The
 * default network (provider "ovn") gets default routes via its gateways; an attachment only
 * its subnet, as Kube-OVN configures them.
 */
export function resultFromAnnotations(
  a: Record<string, string>,
  provider: string,
  ifName: string,
): { result: CniResult; mac?: string } | null {
  const ips = pick(a, provider, ifName, 'ip_address');
  const cidrs = pick(a, provider, ifName, 'cidr');
  if (!ips || !cidrs) return null;
  const gateways = (pick(a, provider, ifName, 'gateway') ?? '').split(',').filter(Boolean);
  const out: CniIp[] = [];
  const routes: CniRoute[] = [];
  for (const ip of ips.split(',').filter(Boolean)) {
    const v6 = ip.includes(':');
    const cidr = cidrs.split(',').find((c) => c.includes(':') === v6);
    const prefix = cidr?.split('/')[1];
    if (!prefix)
      throw new InvalidInputError(
        'Kube-OVN annotations',
        `no ${v6 ? 'IPv6' : 'IPv4'} cidr for ${ip}`,
      );
    const gw = gateways.find((g) => g.includes(':') === v6);
    out.push({ address: `${ip}/${prefix}`, ...(gw ? { gateway: gw } : {}) });
    if (provider === 'ovn' && gw) routes.push({ dst: v6 ? '::/0' : '0.0.0.0/0', gw });
  }
  const mac = pick(a, provider, ifName, 'mac_address');
  return {
    result: { cniVersion: '1.1.0', ips: out, ...(routes.length ? { routes } : {}) },
    ...(mac ? { mac: mac.toLowerCase() } : {}),
  };
}

/**
 * Addresses from the pod's Kube-OVN annotations, for requests with an OVN provider and no
 * `ipam`. kube-ovn-controller writes them asynchronously after the pod is created, so ADD
 * waits for them (bounded) like kube-ovn-cni does.
 */
export class KubeOvnIpSource implements IpSource {
  constructor(
    private readonly api: PodApi,
    private readonly waitMs: number,
    private readonly logger: Logger,
  ) {}

  async resolve(req: AttachRequest): Promise<{ result: CniResult; mac?: string } | null> {
    const provider = req.conf.provider;
    if (!provider) return null;
    const { namespace, name } = req.pod;
    const deadline = Date.now() + this.waitMs;
    let lastErr: string;
    for (;;) {
      try {
        const got = resultFromAnnotations(
          await this.api.annotations(namespace, name),
          provider,
          req.ifName,
        );
        if (got) return got;
        lastErr = `no ${annotationKey(provider, 'ip_address')} annotation yet`;
      } catch (err) {
        if (err instanceof InvalidInputError) throw err;
        lastErr = errorMessage(err);
        this.logger.debug(
          { pod: `${namespace}/${name}`, err: lastErr },
          'pod read failed; retrying',
        );
      }
      if (Date.now() >= deadline) {
        throw new TransientError(
          `Kube-OVN did not annotate pod ${namespace}/${name} for provider ${provider} within ${this.waitMs} ms`,
          lastErr,
        );
      }
      await sleep(Math.min(250, Math.max(1, deadline - Date.now())));
    }
  }

  async published(req: AttachRequest, representor: string | null): Promise<void> {
    const provider = req.conf.provider;
    if (!provider || representor === null) return;
    await this.api.annotate(req.pod.namespace, req.pod.name, {
      [annotationKey(provider, 'vf_representor')]: representor,
      [annotationKey(provider, 'pod_nic_type')]: 'sriov',
    });
  }
}
