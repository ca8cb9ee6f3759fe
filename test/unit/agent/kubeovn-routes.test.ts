import { describe, expect, it } from 'vitest';
import {
  appendsIfName,
  isDefaultRoute,
  KubeOvnIpSource,
  resultFromAnnotations,
  type PodApi,
} from '../../../src/agent/kubeovn.js';
import { addressLines } from '../../../src/agent/podnet.js';
import {
  normalizeRoute,
  parseRoutesAnnotation,
  replaceInOrder,
  withNetconfRoutes,
} from '../../../src/agent/routes.js';
import type { AttachRequest } from '../../../src/agent/attach/request.js';
import { InvalidInputError } from '../../../src/sys/index.js';

const P = 'sriov-net1.default.ovn';
const k = (what: string, ifName?: string) =>
  ifName ? `${P}.${ifName}.kubernetes.io/${what}` : `${P}.kubernetes.io/${what}`;
const v4 = {
  [k('ip_address')]: '10.16.0.5',
  [k('cidr')]: '10.16.0.0/16',
  [k('gateway')]: '10.16.0.1',
};
const dual = {
  [k('ip_address')]: '10.16.0.5,fd00:10:16::5',
  [k('cidr')]: '10.16.0.0/16,fd00:10:16::/112',
  [k('gateway')]: '10.16.0.1,fd00:10:16::1',
};

describe('Kube-OVN default-route rule (handler.go handleAdd)', () => {
  it.each([
    ['eth0 without default_route', {}, 'eth0', true],
    ['net1 without default_route', {}, 'net1', false],
    ['eth0 with default_route "false"', { [k('default_route')]: 'false' }, 'eth0', false],
    ['net1 with default_route "true"', { [k('default_route')]: 'true' }, 'net1', true],
    [
      'eth0 with default_route "yes" (not true/false)',
      { [k('default_route')]: 'yes' },
      'eth0',
      true,
    ],
    [
      'net1 with a default_route of another provider',
      { 'ovn.kubernetes.io/default_route': 'true' },
      'net1',
      false,
    ],
  ])('%s', (_name, a, ifName, want) => {
    expect(isDefaultRoute(a, P, ifName)).toBe(want);
  });
});

describe('resultFromAnnotations', () => {
  it('null until ip_address and cidr are there', () => {
    expect(resultFromAnnotations({}, P, 'eth0')).toBeNull();
    expect(resultFromAnnotations({ [k('ip_address')]: '10.16.0.5' }, P, 'eth0')).toBeNull();
  });

  it('eth0: the default route via the gateway, the gateway on the address, routed read', () => {
    const got = resultFromAnnotations({ ...v4, [k('routed')]: 'true' }, P, 'eth0')!;
    expect(got).toEqual({
      result: {
        cniVersion: '1.1.0',
        ips: [{ address: '10.16.0.5/16', gateway: '10.16.0.1' }],
        routes: [{ dst: '0.0.0.0/0', gw: '10.16.0.1' }],
      },
      appendIfName: false,
      defaultRoute: true,
      routed: true,
    });
  });

  it('eth0 before routed=true: routed false (resolve keeps waiting)', () => {
    expect(resultFromAnnotations(v4, P, 'eth0')!.routed).toBe(false);
  });

  it('net1 (an attachment): no default route and no gateway in ips, as kube-ovn-cni answers', () => {
    const got = resultFromAnnotations(v4, P, 'net1')!;
    expect(got.defaultRoute).toBe(false);
    expect(got.result).toEqual({ cniVersion: '1.1.0', ips: [{ address: '10.16.0.5/16' }] });
  });

  it('default_route "false" on eth0: only the routes annotation', () => {
    const got = resultFromAnnotations(
      {
        ...v4,
        [k('default_route')]: 'false',
        [k('routes')]: '[{"dst":"192.168.50.0/24","gw":"10.16.0.254"}]',
      },
      P,
      'eth0',
    )!;
    expect(got.defaultRoute).toBe(false);
    expect(got.result.routes).toEqual([{ dst: '192.168.50.0/24', gw: '10.16.0.254' }]);
    expect(got.result.ips).toEqual([{ address: '10.16.0.5/16' }]);
  });

  it('dual stack: both default routes, each gateway on its own family', () => {
    const got = resultFromAnnotations(dual, P, 'eth0')!;
    expect(got.result.ips).toEqual([
      { address: '10.16.0.5/16', gateway: '10.16.0.1' },
      { address: 'fd00:10:16::5/112', gateway: 'fd00:10:16::1' },
    ]);
    expect(got.result.routes).toEqual([
      { dst: '0.0.0.0/0', gw: '10.16.0.1' },
      { dst: '::/0', gw: 'fd00:10:16::1' },
    ]);
  });

  it("a single-stack pod on a dual-stack subnet gets only its family's gateway (gatewayForCNIIPFamily)", () => {
    const got = resultFromAnnotations({ ...dual, [k('ip_address')]: 'fd00:10:16::5' }, P, 'eth0')!;
    expect(got.result.routes).toEqual([{ dst: '::/0', gw: 'fd00:10:16::1' }]);
  });

  it('NetConf routes first, then the annotation; a default dst (or an empty one) replaces the gateway default', () => {
    const got = resultFromAnnotations(
      {
        ...dual,
        [k('routes')]: JSON.stringify([
          { dst: '10.99.0.0/16', gw: '10.16.0.253' },
          { gw: 'fd00:10:16::fe' },
          { dst: '172.16.0.5/12', gw: '10.16.0.252' },
        ]),
      },
      P,
      'eth0',
      [
        { dst: '0.0.0.0/0', gw: '10.16.0.254' },
        { dst: '10.99.0.0/16', gw: '10.16.0.250' },
      ],
    )!;
    expect(got.result.routes).toEqual([
      { dst: '0.0.0.0/0', gw: '10.16.0.254' },
      { dst: '::/0', gw: 'fd00:10:16::fe' },
      { dst: '10.99.0.0/16', gw: '10.16.0.253' },
      { dst: '172.16.0.0/12', gw: '10.16.0.252' },
    ]);
  });

  it('bad routes JSON is a clear input error naming the annotation', () => {
    const bad = (routes: string) => () =>
      resultFromAnnotations({ ...v4, [k('routes')]: routes }, P, 'eth0');
    expect(bad('[{"dst":')).toThrow(InvalidInputError);
    expect(bad('[{"dst":')).toThrow(/sriov-net1\.default\.ovn\.kubernetes\.io\/routes.*not JSON/);
    expect(bad('{"dst":"10.0.0.0/8"}')).toThrow(/not a JSON list/);
    expect(bad('[{"dst":"10.0.0.0"}]')).toThrow(/routes\[0\].*not a CIDR/);
    expect(bad('[{"dst":"10.0.0.0/8","gw":"fd00::1"}]')).toThrow(/not of the family/);
    expect(bad('[{}]')).toThrow(/needs a "dst" or a "gw"/);
  });

  it('appendIfName: the <provider>.<ifName> keys only, and the flag for the iface-id', () => {
    const a = {
      ...v4,
      [k('ip_address', 'net2')]: '10.16.0.9',
      [k('cidr', 'net2')]: '10.16.0.0/16',
      [k('gateway', 'net2')]: '10.16.0.1',
      [k('mac_address', 'net2')]: '0A:00:00:00:00:09',
      [k('mac_address')]: '0a:00:00:00:00:05',
    };
    expect(appendsIfName(a, P, 'net2')).toBe(true);
    expect(appendsIfName(a, P, 'net1')).toBe(false);
    const got = resultFromAnnotations(a, P, 'net2')!;
    expect(got.appendIfName).toBe(true);
    expect(got.mac).toBe('0a:00:00:00:00:09');
    expect(got.result.ips).toEqual([{ address: '10.16.0.9/16' }]);
    // The other interface keeps the plain keys.
    expect(resultFromAnnotations(a, P, 'net1')!.result.ips).toEqual([{ address: '10.16.0.5/16' }]);
  });

  it('appendIfName without the <ifName> cidr: not allocated yet (no fallback to the plain keys)', () => {
    expect(
      resultFromAnnotations({ ...v4, [k('ip_address', 'net2')]: '10.16.0.9' }, P, 'net2'),
    ).toBeNull();
  });
});

describe('route merge', () => {
  it('replaceInOrder: same destination network replaces in place, others append', () => {
    expect(
      replaceInOrder([
        { dst: '0.0.0.0/0', gw: '10.0.0.1' },
        { dst: '10.1.0.0/16', gw: '10.0.0.2' },
        { dst: '0.0.0.0/0', gw: '10.0.0.3' },
        { dst: '10.1.2.3/16', gw: '10.0.0.4' },
      ]),
    ).toEqual([
      { dst: '0.0.0.0/0', gw: '10.0.0.3' },
      { dst: '10.1.2.3/16', gw: '10.0.0.4' },
    ]);
  });

  it('withNetconfRoutes: an IPAM result keeps exactly its routes, NetConf routes after them', () => {
    expect(withNetconfRoutes([{ dst: '0.0.0.0/0' }], undefined)).toEqual([{ dst: '0.0.0.0/0' }]);
    expect(
      withNetconfRoutes(
        [{ dst: '0.0.0.0/0' }, { dst: '10.5.0.0/16', gw: '10.1.0.1' }],
        [{ dst: '0.0.0.0/0', gw: '10.1.0.254' }, { dst: '172.16.0.0/12' }],
      ),
    ).toEqual([
      { dst: '0.0.0.0/0', gw: '10.1.0.254' },
      { dst: '10.5.0.0/16', gw: '10.1.0.1' },
      { dst: '172.16.0.0/12' },
    ]);
  });

  it("normalizeRoute: canonical dst and gw; an empty dst is the gateway family's default", () => {
    expect(normalizeRoute({ dst: 'FD00::5/64', gw: 'FD00:0::1' }, 'x')).toEqual({
      dst: 'fd00::/64',
      gw: 'fd00::1',
    });
    expect(normalizeRoute({ dst: '', gw: '10.0.0.1' }, 'x')).toEqual({
      dst: '0.0.0.0/0',
      gw: '10.0.0.1',
    });
    expect(parseRoutesAnnotation('null', 'k')).toEqual([]);
  });

  it('addressLines: ip route replace; gw-less routes via the gateway (IPAM) or on-link (Kube-OVN)', () => {
    const r = {
      cniVersion: '1.1.0',
      ips: [{ address: '10.1.0.5/24', gateway: '10.1.0.1' }],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '10.9.0.0/16', gw: '10.1.0.9' }],
    };
    expect(addressLines('eth0', r)).toEqual([
      ['addr', 'add', '10.1.0.5/24', 'dev', 'eth0'],
      ['route', 'replace', '0.0.0.0/0', 'via', '10.1.0.1', 'dev', 'eth0'],
      ['route', 'replace', '10.9.0.0/16', 'via', '10.1.0.9', 'dev', 'eth0'],
    ]);
    expect(addressLines('eth0', r, { onLink: true })[1]).toEqual([
      'route',
      'replace',
      '0.0.0.0/0',
      'dev',
      'eth0',
    ]);
  });
});

describe('KubeOvnIpSource', () => {
  const req = (ifName: string, routes?: { dst: string; gw?: string }[]) =>
    ({
      ifName,
      pod: { name: 'p', namespace: 'default' },
      ifaceId: `p.default.${P}`,
      conf: { provider: P, ...(routes ? { routes } : {}) },
    }) as unknown as AttachRequest;
  const logger = { debug() {} } as never;
  const api = (seq: Record<string, string>[]): PodApi & { reads: number } => {
    const o = {
      reads: 0,
      annotations: () => Promise.resolve(seq[Math.min(o.reads++, seq.length - 1)]!),
      annotate: () => Promise.resolve(),
    };
    return o;
  };

  it('eth0 waits for routed=true, then answers', async () => {
    const a = api([{}, v4, { ...v4, [k('routed')]: 'true' }]);
    const got = await new KubeOvnIpSource(a, 5000, logger).resolve(req('eth0'));
    expect(a.reads).toBe(3);
    expect(got).toEqual({
      result: expect.objectContaining({
        routes: [{ dst: '0.0.0.0/0', gw: '10.16.0.1' }],
      }) as unknown,
    });
  });

  it('eth0 without routed=true in time: a transient error that says so', async () => {
    await expect(new KubeOvnIpSource(api([v4]), 300, logger).resolve(req('eth0'))).rejects.toThrow(
      /did not route pod default\/p/,
    );
  });

  it('net1 does not wait for routed; NetConf routes reach the result', async () => {
    const got = await new KubeOvnIpSource(api([v4]), 300, logger).resolve(
      req('net1', [{ dst: '10.200.0.0/16', gw: '10.16.0.1' }]),
    );
    expect(got?.result.routes).toEqual([{ dst: '10.200.0.0/16', gw: '10.16.0.1' }]);
    expect(got?.ifaceId).toBeUndefined();
  });

  it('appendIfName: iface-id <pod>.<ns>.<provider>.<ifName> (ovs_linux.go configureNic)', async () => {
    const a = { [k('ip_address', 'net2')]: '10.16.0.9', [k('cidr', 'net2')]: '10.16.0.0/16' };
    const got = await new KubeOvnIpSource(api([a]), 300, logger).resolve(req('net2'));
    expect(got?.ifaceId).toBe(`p.default.${P}.net2`);
  });
});
