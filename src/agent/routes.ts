import { cidrNetwork, formatIp, parseCidr, parseIp } from '../cni/ip.js';
import type { CniRoute } from '../cni/types.js';
import { InvalidInputError } from '../sys/index.js';

/**
 * The routes of a pod interface: which ones, in which order, and how they combine. Pure; the
 * pod side applies the result with `ip route replace` (podnet.ts addressLines).
 */

/** A route as Kube-OVN's request.Route has it: `dst` may be empty (a default route). */
export interface RouteInput {
  dst?: string | undefined;
  gw?: string | undefined;
}

export const DEFAULT_DST = { 4: '0.0.0.0/0', 6: '::/0' } as const;

/**
 * One route in canonical form: `dst` the destination network with its host bits cleared
 * (`ip route replace` keys a route by that network), `gw` as RFC 5952 text. An empty `dst`
 * is the default route of the gateway's family, as Kube-OVN reads it (cmd/cni/cni.go
 * parseRoutes). `what` names the source in errors.
 */
export function normalizeRoute(r: RouteInput, what: string): CniRoute {
  const gw = r.gw ? parseIp(r.gw) : null;
  if (r.gw && !gw) throw new InvalidInputError(what, `gw ${JSON.stringify(r.gw)} is not an IP`);
  if (!r.dst) {
    if (!gw) throw new InvalidInputError(what, 'a route needs a "dst" or a "gw"');
    return { dst: DEFAULT_DST[gw.family], gw: formatIp(gw) };
  }
  const dst = parseCidr(r.dst);
  if (!dst) throw new InvalidInputError(what, `dst ${JSON.stringify(r.dst)} is not a CIDR`);
  if (gw && gw.family !== dst.family) {
    throw new InvalidInputError(what, `gw ${r.gw} is not of the family of dst ${r.dst}`);
  }
  return { dst: cidrNetwork(dst), ...(gw ? { gw: formatIp(gw) } : {}) };
}

export function isDefaultDst(dst: string): boolean {
  return parseCidr(dst)?.prefix === 0;
}

/** The key `ip route replace` replaces by: the destination network (text as given if unparsable). */
function routeKey(dst: string): string {
  const c = parseCidr(dst);
  return c ? cidrNetwork(c) : dst;
}

/**
 * The routes an interface ends up with when `routes` are applied in order with
 * `ip route replace` (RTM_NEWROUTE with NLM_F_REPLACE): a later route with the destination of
 * an earlier one takes its place (and its position), any other is added. Kube-OVN applies
 * the gateway default routes first and the merged NetConf + annotation routes after them,
 * each with netlink.RouteReplace (pkg/daemon/ovs_linux.go configureContainerNic), so a route
 * whose dst is a default route replaces the gateway default of its family.
 */
export function replaceInOrder(routes: readonly CniRoute[]): CniRoute[] {
  const out = new Map<string, CniRoute>();
  for (const r of routes) out.set(routeKey(r.dst), r);
  return [...out.values()];
}

/** The default route(s) via the pod's gateway(s): one per family, as Kube-OVN installs them. */
export function gatewayDefaults(gateways: readonly string[]): CniRoute[] {
  const out: CniRoute[] = [];
  for (const g of gateways) {
    const ip = parseIp(g);
    if (!ip) throw new InvalidInputError('Kube-OVN gateway', `${JSON.stringify(g)} is not an IP`);
    if (out.some((r) => r.dst === DEFAULT_DST[ip.family])) continue;
    out.push({ dst: DEFAULT_DST[ip.family], gw: formatIp(ip) });
  }
  return out;
}

/**
 * Kube-OVN's `<provider>.kubernetes.io/routes` annotation: a JSON list of `{dst, gw}`
 * (pkg/daemon/handler.go handleAdd unmarshals it into []request.Route and fails the ADD on
 * bad JSON).
 */
export function parseRoutesAnnotation(text: string, key: string): CniRoute[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(
      key,
      `not JSON (${err instanceof Error ? err.message : String(err)}): expected a list of {"dst","gw"}`,
    );
  }
  if (parsed === null) return [];
  if (!Array.isArray(parsed)) {
    throw new InvalidInputError(key, 'not a JSON list of {"dst","gw"}');
  }
  return parsed.map((e: unknown, i) => {
    const o = e as Record<string, unknown> | null;
    if (
      typeof o !== 'object' ||
      o === null ||
      Array.isArray(o) ||
      (o.dst !== undefined && typeof o.dst !== 'string') ||
      (o.gw !== undefined && typeof o.gw !== 'string')
    ) {
      throw new InvalidInputError(key, `[${i}] is not an object {"dst","gw"} of strings`);
    }
    return normalizeRoute({ dst: o.dst, gw: o.gw }, `${key}[${i}]`);
  });
}

/**
 * An IPAM plugin's routes, then the NetConf `routes` (each replacing an IPAM route of the
 * same destination): what an interface addressed by an IPAM plugin gets.
 */
export function withNetconfRoutes(
  ipamRoutes: readonly CniRoute[] | undefined,
  netconf: readonly RouteInput[] | undefined,
): CniRoute[] {
  const extra = (netconf ?? []).map((r, i) => normalizeRoute(r, `routes[${i}]`));
  return replaceInOrder([...(ipamRoutes ?? []), ...extra]);
}
