import * as z from 'zod/mini';
import { CniCode, CniError } from './errors.js';
import { formatIssues } from './issues.js';
import { byteLength, CNI_NAME_RE, ifNameProblem, SOCKET_PATH_MAX_BYTES } from './names.js';

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
    }),
  ),
  mac: z.optional(str().check(z.regex(MAC_RE, 'not a MAC address'))),
  mtu: z.optional(int(68, 65535)),
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
