import { describe, expect, it } from 'vitest';
import { parseNetConf } from '../../../src/cni/netconf.js';

const base = {
  cniVersion: '1.0.0',
  name: 'sriov-net1',
  type: 'ovs-offload-cni',
  server_socket: '/run/ovs-offload/cni.sock',
};

/** runtimeConfig.bandwidth: the CNI bandwidth capability, in bits/s and bits. */
describe('NetConf runtimeConfig.bandwidth', () => {
  it('accepts the bandwidth plugin units (bits/s, bits) and keeps them', () => {
    const c = parseNetConf({
      ...base,
      runtimeConfig: {
        bandwidth: {
          ingressRate: 50_000_000,
          ingressBurst: 8_000_000,
          egressRate: 30_000_000,
          egressBurst: 2_000_000,
        },
      },
    });
    expect(c.runtimeConfig?.bandwidth).toEqual({
      ingressRate: 50_000_000,
      ingressBurst: 8_000_000,
      egressRate: 30_000_000,
      egressBurst: 2_000_000,
    });
  });

  it('takes a rate without a burst (the default burst applies)', () => {
    expect(
      parseNetConf({ ...base, runtimeConfig: { bandwidth: { egressRate: 1_000_000 } } })
        .runtimeConfig?.bandwidth,
    ).toEqual({ egressRate: 1_000_000 });
  });

  it.each([
    ['a negative rate', { ingressRate: -1 }, /ingressRate: must be a non-negative integer/],
    ['a fractional rate', { egressRate: 1.5 }, /egressRate: must be a non-negative integer/],
    ['a string rate', { egressRate: '10M' }, /egressRate: must be a non-negative integer/],
    ['a burst without a rate', { ingressBurst: 1000 }, /ingressBurst: needs ingressRate/],
    [
      'a burst of 4 GiB',
      { egressRate: 1, egressBurst: 8 * 2 ** 32 },
      /egressBurst: more than 4 GiB/,
    ],
    ['not an object', 5, /bandwidth: must be an object/],
  ])('refuses %s (code 7)', (_name, bandwidth, re) => {
    let err: unknown;
    try {
      parseNetConf({ ...base, runtimeConfig: { bandwidth } });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 7 });
    expect(String((err as Error).message)).toMatch(re);
  });
});
