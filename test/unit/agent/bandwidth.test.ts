import { describe, expect, it } from 'vitest';
import {
  computeHtbBurstBytes,
  computeIngressPolicingBurstKbit,
  parseAndScaleBandwidthRate,
  planBandwidth,
  rateAnnotations,
} from '../../../src/agent/attach/bandwidth.js';
import { InvalidInputError } from '../../../src/sys/index.js';

/**
 * The cases are Kube-OVN's own (kubeovn/kube-ovn pkg/ovs/ovs-vsctl_linux_test.go
 * TestComputeIngressPolicingBurstKbit, TestComputeHtbBurstBytes, TestParseAndScaleBandwidthRate),
 * same names, same numbers, except where JavaScript numbers end (noted).
 */
describe('computeIngressPolicingBurstKbit (Kube-OVN TestComputeIngressPolicingBurstKbit)', () => {
  const MAX_INT64 = '9223372036854775807';
  it.each([
    ['default 80% when burst empty', 10000, '', 8000],
    ['literal zero is honored', 10000, '0', 0],
    ['explicit value in Mbit', 10000, '5', 5000],
    ['default with zero rate', 0, '', 0],
    ['non-empty burst with zero rate is forced to 0', 0, '5', 0],
    ['unparseable burst falls back to default', 10000, 'abc', 8000],
    ['overflowing burst falls back to default', 10000, MAX_INT64, 8000],
    // Integer arithmetic as Go does it: rate/10*8 + rate%10*8/10.
    ['default truncates like Go (rate 1234 kbit)', 1234, '', 987],
    ['default of a 1 kbit rate is 0', 1, '', 0],
    ['absent burst is the default', 10000, undefined, 8000],
    ['negative burst (ovs-vsctl refuses it) falls back to default', 10000, '-5', 8000],
  ] as const)('%s', (_name, rate, burst, want) => {
    expect(computeIngressPolicingBurstKbit(rate, burst)).toBe(want);
  });
});

describe('computeHtbBurstBytes (Kube-OVN TestComputeHtbBurstBytes)', () => {
  it.each([
    ['default 80% when burst empty', 100_000_000, '', 10_000_000],
    ['literal zero is honored', 100_000_000, '0', 0],
    ['explicit value in Mbit', 100_000_000, '5', 625_000],
    ['non-empty burst with zero rate is forced to 0', 0, '5', 0],
    ['unparseable burst falls back to default', 100_000_000, 'abc', 10_000_000],
    ['overflowing burst falls back to default', 100_000_000, '9223372036854775807', 10_000_000],
    ['absent burst is the default', 20_000_000, undefined, 2_000_000],
  ] as const)('%s', (_name, rate, burst, want) => {
    expect(computeHtbBurstBytes(rate, burst)).toBe(want);
  });
});

describe('parseAndScaleBandwidthRate (Kube-OVN TestParseAndScaleBandwidthRate)', () => {
  it.each([
    ['empty is zero', '', 1_000_000, 0],
    ['zero', '0', 1_000_000, 0],
    ['normal', '100', 1_000_000, 100_000_000],
    ['a leading + like Go ParseInt', '+20', 1000, 20_000],
  ] as const)('%s', (_name, rate, scale, want) => {
    expect(parseAndScaleBandwidthRate(rate, scale, 'k')).toBe(want);
  });

  it.each([
    ['invalid', 'invalid', 1_000_000, /invalid bandwidth rate/],
    ['negative', '-1', 1_000_000, /must not be negative/],
    ['a fraction', '1.5', 1_000_000, /invalid bandwidth rate/],
    ['one over unified maximum in bits', '9223372036855', 1_000_000, /overflows/],
    // Kube-OVN takes MaxBandwidthMbps (9223372036854) in bits; JSON numbers are exact only
    // up to 2^53-1, so 9007199255 Mbit/s (9 Pbit/s) is our ceiling.
    ['above what a JSON number carries exactly', '9007199255', 1_000_000, /overflows/],
  ] as const)('%s is refused', (_name, rate, scale, re) => {
    expect(() => parseAndScaleBandwidthRate(rate, scale, 'k')).toThrow(InvalidInputError);
    expect(() => parseAndScaleBandwidthRate(rate, scale, 'k')).toThrow(re);
  });
});

describe('rateAnnotations', () => {
  it('reads the plain <provider>.kubernetes.io form', () => {
    const r = rateAnnotations(
      { 'ovn.kubernetes.io/ingress_rate': '10', 'ovn.kubernetes.io/egress_burst': '2' },
      'ovn',
      'eth0',
    );
    expect(r).toMatchObject({ ingressRate: '10', egressBurst: '2' });
    expect(r.egressRate).toBeUndefined();
  });

  it('with <provider>.<ifName>.kubernetes.io/ip_address reads ONLY the .<ifName> form (handleAdd appendIfName)', () => {
    const p = 'sriov-net1.default.ovn';
    const a = {
      [`${p}.net1.kubernetes.io/ip_address`]: '10.0.0.5',
      [`${p}.net1.kubernetes.io/ingress_rate`]: '30',
      [`${p}.kubernetes.io/ingress_rate`]: '99',
      [`${p}.kubernetes.io/egress_rate`]: '99',
    };
    const r = rateAnnotations(a, p, 'net1');
    expect(r.ingressRate).toBe('30');
    expect(r.egressRate).toBeUndefined();
    expect(r.keys.ingressRate).toBe(`${p}.net1.kubernetes.io/ingress_rate`);
  });

  it('treats an empty value as absent', () => {
    const r = rateAnnotations({ 'ovn.kubernetes.io/ingress_rate': '' }, 'ovn', 'eth0');
    expect(r.ingressRate).toBeUndefined();
  });
});

describe('planBandwidth', () => {
  const base = {
    provider: 'ovn',
    ifName: 'eth0',
    pod: { namespace: 'default', name: 'web' },
    ifaceId: 'web.default',
  };

  it('maps the annotations to exactly what SetInterfaceBandwidth writes, directions swapped', () => {
    const plan = planBandwidth({
      ...base,
      annotations: {
        'ovn.kubernetes.io/ingress_rate': '20',
        'ovn.kubernetes.io/egress_rate': '10',
      },
      runtime: null,
    });
    expect(plan.bandwidth).toEqual({
      // pod egress 10 Mbit/s → policing 10000 kbit/s, burst 80% = 8000 kbit
      ingressPolicing: { rateKbps: 10_000, burstKbit: 8000 },
      // pod ingress 20 Mbit/s → htb 20000000 bit/s, burst rate/10 = 2000000 bytes
      htb: { maxRateBps: 20_000_000, burstBytes: 2_000_000 },
      externalIds: { 'iface-id': 'web.default', pod: 'default/web' },
    });
    expect(plan.source).toEqual({ egress: 'annotation', ingress: 'annotation' });
  });

  it('explicit bursts: N Mbit → N*1000 kbit policing, N*125000 bytes htb', () => {
    const plan = planBandwidth({
      ...base,
      annotations: {
        'ovn.kubernetes.io/ingress_rate': '20',
        'ovn.kubernetes.io/ingress_burst': '4',
        'ovn.kubernetes.io/egress_rate': '10',
        'ovn.kubernetes.io/egress_burst': '3',
      },
      runtime: null,
    });
    expect(plan.bandwidth.ingressPolicing).toEqual({ rateKbps: 10_000, burstKbit: 3000 });
    expect(plan.bandwidth.htb).toEqual({ maxRateBps: 20_000_000, burstBytes: 500_000 });
  });

  it('runtimeConfig.bandwidth (bits/s, bits) when there is no annotation', () => {
    const plan = planBandwidth({
      ...base,
      annotations: {},
      runtime: {
        ingressRate: 50_000_000,
        ingressBurst: 8_000_000,
        egressRate: 30_000_000,
        egressBurst: 2_000_000,
      },
    });
    expect(plan.bandwidth.ingressPolicing).toEqual({ rateKbps: 30_000, burstKbit: 2000 });
    expect(plan.bandwidth.htb).toEqual({ maxRateBps: 50_000_000, burstBytes: 1_000_000 });
    expect(plan.source).toEqual({ egress: 'runtimeConfig', ingress: 'runtimeConfig' });
  });

  it('runtimeConfig without bursts gets Kube-OVN default bursts', () => {
    const plan = planBandwidth({
      ...base,
      provider: null,
      annotations: null,
      runtime: { ingressRate: 10_000_000, egressRate: 10_000_000 },
    });
    expect(plan.bandwidth.ingressPolicing).toEqual({ rateKbps: 10_000, burstKbit: 8000 });
    expect(plan.bandwidth.htb).toEqual({ maxRateBps: 10_000_000, burstBytes: 1_000_000 });
  });

  it('precedence per direction: a set annotation wins (even "0"), else runtimeConfig', () => {
    const plan = planBandwidth({
      ...base,
      annotations: { 'ovn.kubernetes.io/ingress_rate': '0' },
      runtime: { ingressRate: 50_000_000, egressRate: 30_000_000 },
    });
    expect(plan.bandwidth.htb).toBeNull();
    expect(plan.source.ingress).toBe('annotation');
    expect(plan.bandwidth.ingressPolicing).toEqual({ rateKbps: 30_000, burstKbit: 24_000 });
    expect(plan.source.egress).toBe('runtimeConfig');
  });

  it('annotations of another provider do not apply', () => {
    const plan = planBandwidth({
      ...base,
      provider: 'net1.default.ovn',
      annotations: { 'ovn.kubernetes.io/ingress_rate': '20' },
      runtime: null,
    });
    expect(plan.bandwidth.htb).toBeNull();
    expect(plan.bandwidth.ingressPolicing).toBeNull();
  });

  it('a rate Kube-OVN refuses is an InvalidInputError naming the annotation', () => {
    expect(() =>
      planBandwidth({
        ...base,
        annotations: { 'ovn.kubernetes.io/egress_rate': '-1' },
        runtime: null,
      }),
    ).toThrow(/ovn\.kubernetes\.io\/egress_rate.*must not be negative/);
  });
});
