import type { CniIp, CniResult, CniRoute } from '../cni/types.js';
import { errorMessage, InvalidInputError, sleep, type Logger } from '../sys/index.js';
import { TransientError } from './errors.js';
import type { IpSource, IpSourceResult } from './attach/add.js';
import type { AttachRequest } from './attach/request.js';
import { kubeClient, parseAnswer, PodSchema, SubnetSchema } from './kube-api.js';
import {
  gatewayDefaults,
  normalizeRoute,
  parseRoutesAnnotation,
  replaceInOrder,
  type RouteInput,
} from './routes.js';

/** The two pod operations the Kube-OVN IP source needs. */
export interface PodApi {
  annotations(namespace: string, name: string): Promise<Record<string, string>>;
  annotate(namespace: string, name: string, annotations: Record<string, string>): Promise<void>;
}

const podPath = (namespace: string, name: string) =>
  `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;

/** The pods API (in-cluster service account or a kubeconfig): a GET and a merge PATCH. */
export function kubernetesPodApi(kubeconfig?: string): PodApi {
  const api = kubeClient(kubeconfig);
  return {
    async annotations(namespace, name) {
      const path = podPath(namespace, name);
      const pod = parseAnswer(PodSchema, await api.request('GET', path), `GET ${path}`);
      return pod.metadata?.annotations ?? {};
    },
    async annotate(namespace, name, annotations) {
      const path = podPath(namespace, name);
      const answer = await api.request('PATCH', path, {
        body: { metadata: { annotations } },
        contentType: 'application/merge-patch+json',
      });
      parseAnswer(PodSchema, answer, `PATCH ${path}`);
    },
  };
}

/** Kube-OVN's Subnet (`subnets.kubeovn.io` v1, cluster-scoped): what the pod path reads. */
export interface SubnetApi {
  /** `spec.mtu` of the Subnet (0 or absent: not set). */
  mtu(name: string): Promise<number>;
}

/** Subnets (needs `get` on subnets.kubeovn.io). */
export function kubernetesSubnetApi(kubeconfig?: string): SubnetApi {
  const api = kubeClient(kubeconfig);
  return {
    async mtu(name) {
      const path = `/apis/kubeovn.io/v1/subnets/${encodeURIComponent(name)}`;
      const subnet = parseAnswer(SubnetSchema, await api.request('GET', path), `GET ${path}`);
      const mtu = subnet.spec?.mtu;
      return typeof mtu === 'number' && mtu > 0 ? mtu : 0;
    },
  };
}

/** Kube-OVN's annotation key for a provider: `<provider>.kubernetes.io/<what>`. */
export function annotationKey(provider: string, what: string, ifName?: string): string {
  return ifName
    ? `${provider}.${ifName}.kubernetes.io/${what}`
    : `${provider}.kubernetes.io/${what}`;
}

/**
 * Kube-OVN's "multiple NICs from one subnet" form: when the pod has
 * `<provider>.<ifName>.kubernetes.io/ip_address`, the interface's own keys (ip_address, cidr,
 * gateway, mac_address, logical_switch, rates) are read with `<provider>.<ifName>` and only
 * that way, and its iface-id gets `.<ifName>` appended (pkg/daemon/handler.go handleAdd
 * `appendIfName`; pkg/util/net.go GetAnnotationWithIfNameOverride).
 */
export function appendsIfName(
  a: Record<string, string>,
  provider: string,
  ifName: string,
): boolean {
  return annotationKey(provider, 'ip_address', ifName) in a;
}

/** One of the interface's own keys, as GetAnnotationWithIfNameOverride reads it. */
export function pick(
  a: Record<string, string>,
  provider: string,
  ifName: string,
  what: string,
): string | undefined {
  return a[annotationKey(provider, what, appendsIfName(a, provider, ifName) ? ifName : undefined)];
}

const list = (v: string | undefined): string[] =>
  (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/**
 * Whether the interface gets the default route(s), Kube-OVN's rule (pkg/daemon/handler.go
 * handleAdd): the plain-provider `default_route` annotation "true"/"false" decides; without
 * it, the interface named `eth0` does.
 */
export function isDefaultRoute(
  a: Record<string, string>,
  provider: string,
  ifName: string,
): boolean {
  switch (a[annotationKey(provider, 'default_route')]) {
    case 'true':
      return true;
    case 'false':
      return false;
    default:
      return ifName === 'eth0';
  }
}

/** What the pod's annotations give one interface (null: no address allocated yet). */
export interface KubeOvnAllocation {
  result: CniResult;
  mac?: string;
  /** Kube-OVN's appendIfName form: the iface-id is `<pod>.<ns>.<provider>.<ifName>`. */
  appendIfName: boolean;
  defaultRoute: boolean;
  /** `<provider>.kubernetes.io/routed` is "true": kube-ovn-controller routed the pod. */
  routed: boolean;
}

/**
 * Turns Kube-OVN's allocation (comma-separated for dual stack: ip_address "10.16.0.5,fd00::5",
 * cidr "10.16.0.0/16,fd00::/112", gateway "10.16.0.1,fd00::1") into a CNI result whose routes
 * are exactly those the interface gets, as kube-ovn-cni configures them:
 * - the default route(s) via the subnet gateway(s) of the pod's families (handleAdd
 *   gatewayForCNIIPFamily) when the interface gets the default route (isDefaultRoute);
 * - then the NetConf `routes`, then the `<provider>.kubernetes.io/routes` annotation (plain
 *   provider, a JSON list of {dst, gw}; handleAdd `routes = append(podRequest.Routes,
 *   routes...)`), each replacing a route of the same destination (configureContainerNic
 *   RouteReplace), so a default `dst` replaces the gateway default.
 * `ips[].gateway` is set only on the default-route interface, as handleAdd answers.
 */
export function resultFromAnnotations(
  a: Record<string, string>,
  provider: string,
  ifName: string,
  netconfRoutes: readonly RouteInput[] = [],
): KubeOvnAllocation | null {
  const ips = list(pick(a, provider, ifName, 'ip_address'));
  const cidrs = list(pick(a, provider, ifName, 'cidr'));
  if (ips.length === 0 || cidrs.length === 0) return null;
  const gateways = list(pick(a, provider, ifName, 'gateway'));
  const defaultRoute = isDefaultRoute(a, provider, ifName);
  const out: CniIp[] = [];
  const podGateways: string[] = [];
  for (const ip of ips) {
    const v6 = ip.includes(':');
    const cidr = cidrs.find((c) => c.includes(':') === v6);
    const prefix = cidr?.split('/')[1];
    if (!prefix)
      throw new InvalidInputError(
        'Kube-OVN annotations',
        `no ${v6 ? 'IPv6' : 'IPv4'} cidr for ${ip}`,
      );
    // handler.go gatewayForCNIIPFamily: only the gateways of the pod's own families.
    const gw = gateways.find((g) => g.includes(':') === v6);
    if (gw) podGateways.push(gw);
    out.push({ address: `${ip}/${prefix}`, ...(defaultRoute && gw ? { gateway: gw } : {}) });
  }
  const routesKey = annotationKey(provider, 'routes');
  const routesText = a[routesKey];
  const routes: CniRoute[] = replaceInOrder([
    ...(defaultRoute ? gatewayDefaults(podGateways) : []),
    ...netconfRoutes.map((r, i) => normalizeRoute(r, `routes[${i}]`)),
    ...(routesText ? parseRoutesAnnotation(routesText, routesKey) : []),
  ]);
  const mac = pick(a, provider, ifName, 'mac_address');
  return {
    result: { cniVersion: '1.1.0', ips: out, ...(routes.length ? { routes } : {}) },
    ...(mac ? { mac: mac.toLowerCase() } : {}),
    appendIfName: appendsIfName(a, provider, ifName),
    defaultRoute,
    routed: a[annotationKey(provider, 'routed')] === 'true',
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
    /** Subnets, for `spec.mtu`; absent: no Subnet MTU is read. */
    private readonly subnets?: SubnetApi,
  ) {}

  async resolve(req: AttachRequest): Promise<IpSourceResult | null> {
    const provider = req.conf.provider;
    if (!provider) return null;
    const { namespace, name } = req.pod;
    const deadline = Date.now() + this.waitMs;
    let lastErr: string;
    let what = 'annotate';
    for (;;) {
      try {
        const got = resultFromAnnotations(
          await this.api.annotations(namespace, name),
          provider,
          req.ifName,
          req.conf.routes,
        );
        // handler.go handleAdd: the default-route interface also waits for
        // `<provider>.kubernetes.io/routed=true` (kube-ovn-controller has set up the pod's
        // routes in OVN), bounded here by annotationWaitMs as the address wait is.
        if (got && (!got.defaultRoute || got.routed)) {
          return {
            result: got.result,
            ...(got.mac ? { mac: got.mac } : {}),
            // ovs_linux.go configureNic: ifaceID += "." + ifName when appendIfName.
            ...(got.appendIfName ? { ifaceId: `${req.ifaceId}.${req.ifName}` } : {}),
          };
        }
        what = got ? 'route' : 'annotate';
        lastErr = got
          ? `${annotationKey(provider, 'routed')} is not "true" yet (${req.ifName} gets the default route)`
          : `no ${annotationKey(provider, 'ip_address')} annotation yet`;
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
          `Kube-OVN did not ${what} pod ${namespace}/${name} for provider ${provider} within ${this.waitMs} ms`,
          lastErr,
        );
      }
      await sleep(Math.min(250, Math.max(1, deadline - Date.now())));
    }
  }

  /**
   * The pod's Kube-OVN Subnet (the `<provider>.kubernetes.io/logical_switch` annotation, the
   * interface's own key as GetAnnotationWithIfNameOverride reads it) and its `spec.mtu`; null
   * without a provider, an annotation or a Subnet API. Kube-OVN fails the ADD when the Subnet
   * cannot be read (handler.go handleAdd "failed to get subnet"): so do we, as a transient
   * error (the Subnet may be on its way; a missing RBAC grant shows in the message).
   */
  async subnetMtu(req: AttachRequest): Promise<{ name: string; mtu: number } | null> {
    const provider = req.conf.provider;
    if (!provider || !this.subnets) return null;
    const pod = `${req.pod.namespace}/${req.pod.name}`;
    let name: string | undefined;
    try {
      const a = await this.api.annotations(req.pod.namespace, req.pod.name);
      name = pick(a, provider, req.ifName, 'logical_switch');
      if (!name) return null;
      return { name, mtu: await this.subnets.mtu(name) };
    } catch (err) {
      throw new TransientError(
        name
          ? `read Kube-OVN Subnet ${name} (subnets.kubeovn.io, needs RBAC get) for pod ${pod}`
          : `read pod ${pod}`,
        errorMessage(err),
        { cause: err },
      );
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
