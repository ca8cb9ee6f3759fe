import * as z from 'zod/mini';
import { CniCode, CniError } from './errors.js';
import { formatIssues } from './issues.js';
import { byteLength, CNI_NAME_RE, ifNameProblem, SOCKET_PATH_MAX_BYTES } from './names.js';
import { parseCidr, parseIp } from './ip.js';

/**
 * The NetConf of `type: ovs-offload-cni` (docs/cni.md). zod/mini keeps the front end's
 * start-up small; the agent validates the same schema again, since it can have other clients.
 */

const PCI_RE = /^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-1][0-9a-fA-F]\.[0-7]$/;
const MAC_RE = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/;
/** Kube-OVN providers: "ovn" (the default network) or "<nad>.<namespace>.ovn" (an attachment). */
const PROVIDER_RE = /^(ovn|[a-z0-9]([-a-z0-9]*[a-z0-9])?\.[a-z0-9]([-a-z0-9]*[a-z0-9])?\.ovn)$/;

// zod/mini ships no message locale: every check names its rule itself.
const int = (min: number, max: number) =>
  z
    .number({ error: `must be an integer in ${min}..${max}` })
    .check(
      z.refine(
        (v) => Number.isInteger(v) && v >= min && v <= max,
        `must be an integer in ${min}..${max}`,
      ),
    );
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}` });
const str = (what = 'must be a string') => z.string({ error: what });
const onOff = oneOf(['on', 'off']);

const obj = <T extends Parameters<typeof z.looseObject>[0]>(shape: T) =>
  z.looseObject(shape, { error: 'must be an object' });
/** A non-negative whole number a JSON number carries exactly (bandwidth rates and bursts). */
const bits = (unit: string) =>
  z
    .number({ error: `must be a non-negative integer (${unit})` })
    .check(
      z.refine(
        (v) => Number.isSafeInteger(v) && v >= 0,
        `must be a non-negative integer (${unit})`,
      ),
    );

const attachmentList = z.nullable(
  z.array(
    obj({
      containerID: str('required (a string)'),
      ifname: str('required (a string)'),
    }),
    { error: 'must be a list of {"containerID", "ifname"}' },
  ),
);

export const NetConfSchema = z.looseObject({
  cniVersion: str(),
  name: str('required (a string)').check(
    z.minLength(1, 'must not be empty'),
    z.regex(
      CNI_NAME_RE,
      "must be letters, digits, '_', '.' and '-', starting with a letter or digit",
    ),
  ),
  type: z.literal('ovs-offload-cni', { error: 'must be "ovs-offload-cni"' }),
  server_socket: str('required: the agent socket path').check(
    z.regex(/^\//, 'must be an absolute path'),
    z.refine((v) => !v.includes('\0'), 'must not contain a NUL character'),
    z.refine(
      (v) => byteLength(v) <= SOCKET_PATH_MAX_BYTES,
      `longer than a unix socket path can be (${SOCKET_PATH_MAX_BYTES} bytes)`,
    ),
  ),
  provider: z.optional(
    str().check(z.regex(PROVIDER_RE, 'must be "ovn" or "<nad>.<namespace>.ovn"')),
  ),
  bridge: z.optional(
    str().check(z.refine((v) => ifNameProblem(v) === null, 'not a valid bridge name')),
  ),
  deviceID: z.optional(str().check(z.regex(PCI_RE, 'not a PCI address of the form DDDD:BB:DD.F'))),
  runtimeConfig: z.optional(
    obj({
      deviceID: z.optional(
        str().check(z.regex(PCI_RE, 'not a PCI address of the form DDDD:BB:DD.F')),
      ),
      mac: z.optional(str().check(z.regex(MAC_RE, 'not a MAC address'))),
      ips: z.optional(z.array(str(), { error: 'must be a list of CIDR strings' })),
      /**
       * The CNI `bandwidth` capability, in the bandwidth plugin's units: rates in bits/s,
       * bursts in bits (containernetworking/plugins plugins/meta/bandwidth BandwidthEntry).
       */
      bandwidth: z.optional(
        obj({
          ingressRate: z.optional(bits('bits per second')),
          ingressBurst: z.optional(bits('bits')),
          egressRate: z.optional(bits('bits per second')),
          egressBurst: z.optional(bits('bits')),
        }),
      ),
    }),
  ),
  mac: z.optional(str().check(z.regex(MAC_RE, 'not a MAC address'))),
  mtu: z.optional(int(68, 65535)),
  /**
   * Routes on the pod interface, as Kube-OVN's NetConf has them (request.Route): added
   * before the pod's `<provider>.kubernetes.io/routes`; a default `dst` replaces the gateway
   * default route. With `ipam`, added after the IPAM plugin's own routes.
   */
  routes: z.optional(
    z.array(
      obj({
        dst: str('required: a CIDR').check(
          z.refine((v) => parseCidr(v) !== null, 'not a CIDR (e.g. "10.0.0.0/8", "::/0")'),
        ),
        gw: z.optional(
          str().check(z.refine((v) => parseIp(v) !== null, 'not an IPv4 or IPv6 address')),
        ),
      }),
      { error: 'must be a list of {"dst", "gw"}' },
    ),
  ),
  vlan: z.optional(int(0, 4094)),
  ipam: z.optional(
    obj({
      type: str('required: the IPAM plugin name').check(z.minLength(1, 'must not be empty')),
    }),
  ),
  mode: z.optional(oneOf(['auto', 'offload', 'legacy'])),
  vlanQoS: z.optional(int(0, 7)),
  vlanProto: z.optional(oneOf(['802.1q', '802.1Q', '802.1ad'])),
  spoofchk: z.optional(onOff),
  trust: z.optional(onOff),
  link_state: z.optional(oneOf(['auto', 'enable', 'disable'])),
  min_tx_rate: z.optional(int(0, 1_000_000)),
  max_tx_rate: z.optional(int(0, 1_000_000)),
  /** A chained plugin's input: the previous plugin's result (CHECK requires it). */
  prevResult: z.optional(obj({})),
  /**
   * GC: the attachments the runtime still has, `cni.dev/attachments` in CNI 1.1.0 and
   * `cni.dev/valid-attachments` as libcni 1.2 sends it; `null` is an empty list. A malformed
   * list must not read as an empty one, which would have GC remove every attachment of the
   * network (the agent also requires one of the keys and both to agree).
   */
  'cni.dev/attachments': z.optional(attachmentList),
  'cni.dev/valid-attachments': z.optional(attachmentList),
});
export type NetConf = z.infer<typeof NetConfSchema>;

/** Validates a NetConf; every problem is a CNI error 7 naming the field. */
export function parseNetConf(raw: unknown): NetConf {
  const r = NetConfSchema.safeParse(raw);
  if (!r.success)
    throw new CniError(
      CniCode.InvalidConfig,
      `invalid network config: ${formatIssues(r.error.issues, 'config')}`,
    );
  const c = r.data;
  if (c.vlanQoS !== undefined && !c.vlan) {
    throw new CniError(
      CniCode.InvalidConfig,
      'invalid network config: vlanQoS: needs a non-zero "vlan"',
    );
  }
  if (c.vlanProto !== undefined && !c.vlan) {
    throw new CniError(
      CniCode.InvalidConfig,
      'invalid network config: vlanProto: needs a non-zero "vlan"',
    );
  }
  if (
    c.min_tx_rate !== undefined &&
    c.max_tx_rate !== undefined &&
    c.max_tx_rate !== 0 &&
    c.min_tx_rate > c.max_tx_rate
  ) {
    throw new CniError(
      CniCode.InvalidConfig,
      'invalid network config: min_tx_rate: greater than max_tx_rate',
    );
  }
  const bw = c.runtimeConfig?.bandwidth;
  for (const dir of ['ingress', 'egress'] as const) {
    const rate = bw?.[`${dir}Rate`] ?? 0;
    const burst = bw?.[`${dir}Burst`] ?? 0;
    // The bandwidth plugin's rule (validateRateAndBurst): a burst needs a rate, and at most
    // 4 GiB. A rate without a burst is taken here: Kube-OVN's default burst applies.
    if (burst !== 0 && rate === 0) {
      throw new CniError(
        CniCode.InvalidConfig,
        `invalid network config: runtimeConfig.bandwidth.${dir}Burst: needs ${dir}Rate`,
      );
    }
    if (burst / 8 >= 2 ** 32) {
      throw new CniError(
        CniCode.InvalidConfig,
        `invalid network config: runtimeConfig.bandwidth.${dir}Burst: more than 4 GiB`,
      );
    }
  }
  for (const [i, r] of (c.routes ?? []).entries()) {
    if (r.gw !== undefined && parseIp(r.gw)?.family !== parseCidr(r.dst)?.family) {
      throw new CniError(
        CniCode.InvalidConfig,
        `invalid network config: routes[${i}].gw: ${r.gw} is not of the family of dst ${r.dst}`,
      );
    }
  }
  return c;
}

/** Multus passes the allocated VF as runtimeConfig.deviceID or deviceID; the former wins. */
export function deviceIdOf(c: NetConf): string | undefined {
  return (c.runtimeConfig?.deviceID ?? c.deviceID)?.toLowerCase();
}

/** The Interface external_ids:iface-id OVN binds on, as Kube-OVN names it. */
export function ifaceIdOf(provider: string | undefined, pod: string, namespace: string): string {
  return provider === undefined || provider === 'ovn'
    ? `${pod}.${namespace}`
    : `${pod}.${namespace}.${provider}`;
}
