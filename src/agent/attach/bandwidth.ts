import type { PortBandwidth, Vswitch } from '../../ovs/vswitch.js';
import { errorMessage, InvalidInputError, type Logger } from '../../sys/index.js';
import { annotationKey, type PodApi } from '../kubeovn.js';
import type { AttachmentState } from '../state.js';
import type { AttachRequest } from './request.js';

/**
 * A pod's rate limits on its representor, computed as Kube-OVN computes them, from two
 * sources:
 *
 * - Kube-OVN's pod annotations `<provider>.kubernetes.io/{ingress,egress}_{rate,burst}`
 *   (Mbit/s and Mbit, base-10 integers; `ovn.kubernetes.io/…` for the default network);
 * - the CNI `bandwidth` capability, `runtimeConfig.bandwidth` {ingressRate, ingressBurst,
 *   egressRate, egressBurst} in bits/s and bits, as the CNI bandwidth plugin defines them
 *   (containernetworking/plugins plugins/meta/bandwidth/main.go BandwidthEntry).
 *
 * Precedence, per direction: the annotation when it is set (non-empty; "0" means "no limit"
 * and overrides the runtime's value), else runtimeConfig.bandwidth. For Kube-OVN users the
 * annotation is the cluster's source of truth (kube-ovn-controller and its users write it,
 * and changing it on a running pod is applied), while runtimeConfig comes from the
 * pod's `kubernetes.io/{ingress,egress}-bandwidth` through the runtime, once, at ADD.
 *
 * Directions are swapped as Kube-OVN swaps them (pkg/daemon/ovs_linux.go configureNic calls
 * SetInterfaceBandwidth(…, egress, ingress, egressBurst, ingressBurst)): the pod's egress is
 * what enters OVS through the port (Interface ingress_policing_*), the pod's ingress what
 * leaves OVS through it (the Port's QoS, linux-htb queue 0).
 */

/** Kube-OVN annotation names (pkg/util/const.go IngressRateAnnotationTemplate and co.). */
const KEYS = {
  ingressRate: 'ingress_rate',
  egressRate: 'egress_rate',
  ingressBurst: 'ingress_burst',
  egressBurst: 'egress_burst',
} as const;

/** runtimeConfig.bandwidth: bits per second and bits (the CNI bandwidth plugin's units). */
export interface RuntimeBandwidth {
  ingressRate?: number | undefined;
  ingressBurst?: number | undefined;
  egressRate?: number | undefined;
  egressBurst?: number | undefined;
}

/** Kube-OVN's rate annotations of one attachment (Mbit/s, Mbit), with the keys they came from. */
export interface RateAnnotations {
  ingressRate?: string;
  egressRate?: string;
  ingressBurst?: string;
  egressBurst?: string;
  keys: Record<keyof typeof KEYS, string>;
}

/** kubeovnv1.MaxBandwidthMbps (pkg/apis/kubeovn/v1/vpc-egress-gateway.go): MaxInt64 / 1e6. */
const MAX_BANDWIDTH_MBPS = 9_223_372_036_854;

/**
 * The annotations for `provider` and `ifName`. Kube-OVN's rule (pkg/daemon/handler.go
 * handleAdd, appendIfName; pkg/util/net.go GetAnnotationWithIfNameOverride): when the pod has
 * `<provider>.<ifName>.kubernetes.io/ip_address`, every per-interface key, the rates
 * included, is read ONLY in that `<provider>.<ifName>` form; otherwise in the plain form.
 */
export function rateAnnotations(
  a: Record<string, string>,
  provider: string,
  ifName: string,
): RateAnnotations {
  const appendIfName = a[annotationKey(provider, 'ip_address', ifName)] !== undefined;
  const key = (what: string) =>
    appendIfName ? annotationKey(provider, what, ifName) : annotationKey(provider, what);
  const keys = {
    ingressRate: key(KEYS.ingressRate),
    egressRate: key(KEYS.egressRate),
    ingressBurst: key(KEYS.ingressBurst),
    egressBurst: key(KEYS.egressBurst),
  };
  const out: RateAnnotations = { keys };
  for (const k of Object.keys(keys) as (keyof typeof keys)[]) {
    const v = a[keys[k]];
    if (v !== undefined && v !== '') out[k] = v;
  }
  return out;
}

/** Go's strconv.ParseInt(s, 10, 64) grammar: optional sign, decimal digits. */
const GO_INT_RE = /^[+-]?[0-9]+$/;

/**
 * Kube-OVN parseAndScaleBandwidthRate (pkg/ovs/ovs-vsctl_linux.go): "" is 0; not an integer,
 * negative, or overflowing when scaled is an error. Our overflow bound is the larger of
 * MaxBandwidthMbps and what a JSON number carries exactly (2^53-1): far above any link.
 */
export function parseAndScaleBandwidthRate(
  rate: string | undefined,
  scale: number,
  field: string,
): number {
  if (rate === undefined || rate === '') return 0;
  if (!GO_INT_RE.test(rate)) {
    throw new InvalidInputError(field, `invalid bandwidth rate ${JSON.stringify(rate)}`);
  }
  const v = Number(rate);
  if (v < 0) {
    throw new InvalidInputError(
      field,
      `bandwidth rate ${JSON.stringify(rate)} must not be negative`,
    );
  }
  if (v > MAX_BANDWIDTH_MBPS || v * scale > Number.MAX_SAFE_INTEGER) {
    throw new InvalidInputError(
      field,
      `bandwidth rate ${JSON.stringify(rate)} overflows when scaled by ${scale}`,
    );
  }
  return v * scale;
}

/** An explicit burst in Mbit, or null when Kube-OVN would fall back to its default. */
function parseBurstMbit(burstMbit: string | undefined, scale: number): number | null {
  if (burstMbit === undefined || burstMbit === '') return null;
  if (!GO_INT_RE.test(burstMbit)) return null;
  const v = Number(burstMbit);
  // Kube-OVN writes a negative value through and ovs-vsctl refuses it (both columns have
  // minInteger 0); we treat it like any other unusable value: the default.
  if (v < 0 || v * scale > Number.MAX_SAFE_INTEGER) return null;
  return v * scale;
}

/**
 * Kube-OVN computeIngressPolicingBurstKbit (pkg/ovs/ovs-vsctl_linux.go): the
 * ingress_policing_burst (kbit) for a rate in kbit/s. No rate: 0. No burst (or an unusable
 * one): defaultIngressPolicingBurstKbit, rate/10*8 + rate%10*8/10 in integer arithmetic
 * (80% of the rate). An explicit N Mbit: N*1000 ("0" is honoured: strict policing).
 */
export function computeIngressPolicingBurstKbit(rateKbit: number, burstMbit?: string): number {
  if (rateKbit <= 0) return 0;
  return (
    parseBurstMbit(burstMbit, 1000) ??
    Math.trunc(rateKbit / 10) * 8 + Math.trunc(((rateKbit % 10) * 8) / 10)
  );
}

/**
 * Kube-OVN computeHtbBurstBytes (pkg/ovs/ovs-vsctl_linux.go): the linux-htb queue's
 * other_config:burst (bytes) for a rate in bit/s. No rate: 0. No burst (or an unusable one):
 * rate/10 bytes (80% of one second's worth). An explicit N Mbit: N*125000 bytes.
 */
export function computeHtbBurstBytes(rateBps: number, burstMbit?: string): number {
  if (rateBps <= 0) return 0;
  return parseBurstMbit(burstMbit, 125_000) ?? Math.trunc(rateBps / 10);
}

export type BandwidthSource = 'annotation' | 'runtimeConfig' | null;

export interface BandwidthPlan {
  bandwidth: PortBandwidth;
  /** Where each of the pod's directions came from. */
  source: { egress: BandwidthSource; ingress: BandwidthSource };
}

/**
 * The port's limits (pure). `annotations` null: none read (no provider, or no API access).
 * Throws InvalidInputError for a rate annotation Kube-OVN would refuse.
 */
export function planBandwidth(input: {
  annotations: Record<string, string> | null;
  provider: string | null;
  ifName: string;
  runtime: RuntimeBandwidth | null;
  pod: { namespace: string; name: string };
  ifaceId: string;
}): BandwidthPlan {
  const ann =
    input.annotations && input.provider
      ? rateAnnotations(input.annotations, input.provider, input.ifName)
      : null;
  const rt = input.runtime ?? {};
  const source: BandwidthPlan['source'] = { egress: null, ingress: null };

  // The pod's egress → Interface ingress_policing_rate (kbit/s) / ingress_policing_burst (kbit).
  let ingressPolicing: PortBandwidth['ingressPolicing'] = null;
  if (ann?.egressRate !== undefined) {
    source.egress = 'annotation';
    const rateKbps = parseAndScaleBandwidthRate(ann.egressRate, 1000, ann.keys.egressRate);
    if (rateKbps > 0) {
      ingressPolicing = {
        rateKbps,
        burstKbit: computeIngressPolicingBurstKbit(rateKbps, ann.egressBurst),
      };
    }
  } else if (rt.egressRate) {
    source.egress = 'runtimeConfig';
    // Below 1 kbit/s still limits (0 would mean "no policing").
    const rateKbps = Math.max(1, Math.floor(rt.egressRate / 1000));
    ingressPolicing = {
      rateKbps,
      burstKbit: rt.egressBurst
        ? Math.ceil(rt.egressBurst / 1000)
        : computeIngressPolicingBurstKbit(rateKbps),
    };
  }

  // The pod's ingress → the Port's QoS queue 0 max-rate (bit/s) / burst (bytes).
  let htb: PortBandwidth['htb'] = null;
  if (ann?.ingressRate !== undefined) {
    source.ingress = 'annotation';
    const maxRateBps = parseAndScaleBandwidthRate(ann.ingressRate, 1_000_000, ann.keys.ingressRate);
    if (maxRateBps > 0) {
      htb = { maxRateBps, burstBytes: computeHtbBurstBytes(maxRateBps, ann.ingressBurst) };
    }
  } else if (rt.ingressRate) {
    source.ingress = 'runtimeConfig';
    htb = {
      maxRateBps: rt.ingressRate,
      burstBytes: rt.ingressBurst
        ? Math.ceil(rt.ingressBurst / 8)
        : computeHtbBurstBytes(rt.ingressRate),
    };
  }

  return {
    bandwidth: {
      ingressPolicing,
      htb,
      // Kube-OVN SetHtbQosQueueRecord / SetQosQueueBinding: external-ids iface-id and pod.
      externalIds: {
        'iface-id': input.ifaceId,
        pod: `${input.pod.namespace}/${input.pod.name}`,
      },
    },
    source,
  };
}

export interface BandwidthDeps {
  vswitch: Pick<Vswitch, 'setPortBandwidth'>;
  /** The pods API (null: no `kubernetes` section, annotations are not read). */
  pods?: Pick<PodApi, 'annotations'> | null | undefined;
  logger: Logger;
}

function hasLimits(b: PortBandwidth): boolean {
  return b.ingressPolicing !== null || b.htb !== null;
}

/**
 * ADD: records the request's sources in the state (the pod watch re-applies from them) and
 * sets the representor's limits. Offload mode only: a legacy VF has its own max_tx_rate.
 * A pod read that fails is no reason to fail the pod: the pod watch applies the annotation
 * once the API answers. An annotation Kube-OVN would refuse fails ADD (code 7), as it fails
 * kube-ovn-cni's.
 */
export async function applyBandwidthOnAdd(
  d: BandwidthDeps,
  req: AttachRequest,
  s: AttachmentState,
): Promise<BandwidthPlan | null> {
  if (s.mode !== 'offload' || !s.representor) return null;
  const provider = req.conf.provider ?? null;
  const runtime = req.conf.runtimeConfig?.bandwidth ?? null;
  s.bandwidth = { provider, runtime };
  let annotations: Record<string, string> | null = null;
  if (provider && d.pods) {
    try {
      annotations = await d.pods.annotations(req.pod.namespace, req.pod.name);
    } catch (err) {
      d.logger.warn(
        { pod: `${req.pod.namespace}/${req.pod.name}`, err: errorMessage(err) },
        'could not read the pod for its rate annotations; the pod watch applies them later',
      );
    }
  }
  const plan = planBandwidth({
    annotations,
    provider,
    ifName: req.ifName,
    runtime,
    pod: req.pod,
    ifaceId: s.ifaceId ?? req.ifaceId,
  });
  // A port this ADD created has no limits yet: nothing to write, not even a read.
  if (!hasLimits(plan.bandwidth)) return plan;
  await d.vswitch.setPortBandwidth(s.representor, plan.bandwidth);
  d.logger.info(
    { port: s.representor, bandwidth: plan.bandwidth, source: plan.source },
    'rate limits set',
  );
  return plan;
}

/**
 * A pod's annotations changed: the limits of one of its attachments again (the pod watch).
 * Resolves with the plan applied, or null when the attachment has no recorded sources (a
 * state file from before rate limits) or is not an offload port.
 */
export async function reapplyBandwidth(
  d: BandwidthDeps,
  s: AttachmentState,
  annotations: Record<string, string>,
): Promise<BandwidthPlan | null> {
  if (s.mode !== 'offload' || !s.representor || !s.bandwidth || !s.ifaceId) return null;
  const plan = planBandwidth({
    annotations,
    provider: s.bandwidth.provider,
    ifName: s.ifName,
    runtime: s.bandwidth.runtime,
    pod: s.pod,
    ifaceId: s.ifaceId,
  });
  const r = await d.vswitch.setPortBandwidth(s.representor, plan.bandwidth);
  if (r.changed) {
    d.logger.info(
      { port: s.representor, bandwidth: plan.bandwidth, source: plan.source },
      'rate limits updated',
    );
  }
  return plan;
}
