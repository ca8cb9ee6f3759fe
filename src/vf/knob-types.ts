import { assertIntInRange, assertMac, InvalidInputError } from '../sys/index.js';

/**
 * Legacy-mode VF knobs (`ip link set <pf> vf N …`), in iproute2's vocabulary. In switchdev
 * the eswitch (OVS) owns VLAN and rate policy and mlx5 answers EOPNOTSUPP for those.
 */
export type OnOff = 'on' | 'off';
export type VlanProto = '802.1Q' | '802.1ad';
export type LinkState = 'auto' | 'enable' | 'disable';

export interface VfKnobs {
  mac?: string;
  /** 0 = no VLAN. qos and proto only go with a vlan. */
  vlan?: number;
  qos?: number;
  proto?: VlanProto;
  spoofchk?: OnOff;
  trust?: OnOff;
  linkState?: LinkState;
  /** Mbps; 0 = no limit. */
  minTxRate?: number;
  maxTxRate?: number;
}

export const KNOB_KEYS = [
  'mac',
  'vlan',
  'qos',
  'proto',
  'spoofchk',
  'trust',
  'linkState',
  'minTxRate',
  'maxTxRate',
] as const satisfies readonly (keyof VfKnobs)[];

/** IFLA_VF_RATE is a u32 of Mbps. */
const MAX_RATE = 0xffffffff;

function oneOf<const T extends string>(v: unknown, allowed: readonly T[], field: string): T {
  const hit = allowed.find((a) => typeof v === 'string' && a.toLowerCase() === v.toLowerCase());
  if (hit === undefined) {
    throw new InvalidInputError(field, `${JSON.stringify(v)} is not one of ${allowed.join('|')}`);
  }
  return hit;
}

/**
 * Checks every knob against the kernel's and iproute2's ranges and returns them normalized
 * (lowercase MAC, canonical proto spelling). Nothing reaches `ip` unless all of them pass.
 */
export function validateKnobs(k: VfKnobs): VfKnobs {
  const out: VfKnobs = {};
  for (const key of Object.keys(k)) {
    if (!(KNOB_KEYS as readonly string[]).includes(key)) {
      throw new InvalidInputError(key, `unknown VF knob (known: ${KNOB_KEYS.join(', ')})`);
    }
  }
  if (k.mac !== undefined) {
    const mac = assertMac(k.mac, 'mac');
    // A group address cannot be a station address: drivers answer EINVAL. All-zero clears.
    if (Number.parseInt(mac.slice(0, 2), 16) & 1) {
      throw new InvalidInputError('mac', `${mac} is a multicast address`);
    }
    out.mac = mac;
  }
  if (k.vlan !== undefined) out.vlan = assertIntInRange(k.vlan, 0, 4095, 'vlan');
  if (k.qos !== undefined) out.qos = assertIntInRange(k.qos, 0, 7, 'qos');
  if (k.proto !== undefined) out.proto = oneOf(k.proto, ['802.1Q', '802.1ad'], 'proto');
  if ((out.qos !== undefined || out.proto !== undefined) && out.vlan === undefined) {
    throw new InvalidInputError('qos', 'qos and proto are set together with vlan');
  }
  if (out.vlan === 0 && ((out.qos ?? 0) !== 0 || (out.proto ?? '802.1Q') !== '802.1Q')) {
    throw new InvalidInputError('vlan', 'qos and proto 802.1ad need a non-zero vlan');
  }
  if (k.spoofchk !== undefined) out.spoofchk = oneOf(k.spoofchk, ['on', 'off'], 'spoofchk');
  if (k.trust !== undefined) out.trust = oneOf(k.trust, ['on', 'off'], 'trust');
  if (k.linkState !== undefined) {
    out.linkState = oneOf(k.linkState, ['auto', 'enable', 'disable'], 'link_state');
  }
  if (k.minTxRate !== undefined) {
    out.minTxRate = assertIntInRange(k.minTxRate, 0, MAX_RATE, 'min_tx_rate');
  }
  if (k.maxTxRate !== undefined) {
    out.maxTxRate = assertIntInRange(k.maxTxRate, 0, MAX_RATE, 'max_tx_rate');
  }
  return out;
}

/** The kernel's rule for IFLA_VF_RATE: min ≤ max unless max is 0 (unlimited). */
export function assertRates(min: number, max: number): void {
  if (max !== 0 && min > max) {
    throw new InvalidInputError('min_tx_rate', `${min} Mbps is above max_tx_rate ${max} Mbps`);
  }
}
