import { z } from 'zod';
import {
  assertIfName,
  assertIntInRange,
  CommandError,
  NotFoundError,
  NotSupportedError,
  type Ip,
  type Netns,
} from '../sys/index.js';
import { assertRates, validateKnobs, type VfKnobs } from './knob-types.js';
import { parseVfInfoText } from './vfinfo-text.js';

/**
 * Read and set legacy-mode VF knobs through the PF (`ip link … vf N`). Setting returns the
 * values it replaced, so passing `previous` back restores exactly what was changed.
 */

export interface KnobOptions {
  /** The netns the PF netdev lives in (default: this process's). */
  netns?: Netns;
}

// iproute2 renamed fields over the years: "mac" → "address", vlan/qos → vlan_list, tx_rate → rate.
const VfInfoSchema = z.looseObject({
  vf: z.number().int().nonnegative(),
  address: z.string().optional(),
  mac: z.string().optional(),
  vlan_list: z
    .array(
      z.looseObject({
        vlan: z.number().int().optional(),
        qos: z.number().int().optional(),
        protocol: z.string().optional(),
      }),
    )
    .optional(),
  vlan: z.number().int().optional(),
  qos: z.number().int().optional(),
  tx_rate: z.number().int().optional(),
  rate: z.looseObject({ max_tx: z.number().int(), min_tx: z.number().int() }).optional(),
  spoofchk: z.boolean().optional(),
  trust: z.boolean().optional(),
  link_state: z.enum(['auto', 'enable', 'disable']).optional(),
});
const LinksSchema = z.array(
  z.looseObject({ ifname: z.string(), vfinfo_list: z.array(VfInfoSchema).optional() }),
);
type VfInfoJson = z.infer<typeof VfInfoSchema>;

function fromJson(v: VfInfoJson): VfKnobs {
  const k: VfKnobs = {};
  const mac = v.address ?? v.mac;
  if (mac !== undefined) k.mac = mac.toLowerCase();
  const vl = v.vlan_list?.[0];
  if (v.vlan_list) {
    k.vlan = vl?.vlan ?? 0;
    k.qos = vl?.qos ?? 0;
    k.proto = vl?.protocol?.toLowerCase() === '802.1ad' ? '802.1ad' : '802.1Q';
  } else if (v.vlan !== undefined || v.qos !== undefined) {
    k.vlan = v.vlan ?? 0;
    k.qos = v.qos ?? 0;
    k.proto = '802.1Q';
  }
  if (v.rate) {
    k.minTxRate = v.rate.min_tx;
    k.maxTxRate = v.rate.max_tx;
  } else if (v.tx_rate !== undefined) k.maxTxRate = v.tx_rate;
  if (v.spoofchk !== undefined) k.spoofchk = v.spoofchk ? 'on' : 'off';
  if (v.trust !== undefined) k.trust = v.trust ? 'on' : 'off';
  if (v.link_state !== undefined) k.linkState = v.link_state;
  return k;
}

const NO_JSON = /Option "-j(son)?" is unknown/;

/** Every VF's knobs as the PF reports them (`ip -j -d link show dev <pf>`). */
export async function readAllVfKnobs(
  ip: Ip,
  pfNetdev: string,
  opts: KnobOptions = {},
): Promise<Map<number, VfKnobs>> {
  const pf = assertIfName(pfNetdev, 'PF netdev');
  const ns = opts.netns ?? null;
  let raw: unknown;
  try {
    raw = await ip.json(ns, ['-d', 'link', 'show', 'dev', pf]);
  } catch (err) {
    if (err instanceof CommandError && NO_JSON.test(err.stderr)) {
      const text = await ip.run(ns, ['-d', 'link', 'show', 'dev', pf]);
      return parseVfInfoText(text.stdout, pf);
    }
    throw err;
  }
  const r = LinksSchema.safeParse(raw);
  if (!r.success) {
    throw new NotSupportedError('ip -j link show', {
      cause: r.error,
      message: `read VF knobs of ${pf}: unexpected ip JSON (${r.error.issues[0]?.message ?? 'invalid'})`,
    });
  }
  const link = r.data.find((l) => l.ifname === pf) ?? r.data[0];
  return new Map((link?.vfinfo_list ?? []).map((v) => [v.vf, fromJson(v)]));
}

export async function readVfKnobs(
  ip: Ip,
  pfNetdev: string,
  vfIndex: number,
  opts: KnobOptions = {},
): Promise<VfKnobs> {
  assertIntInRange(vfIndex, 0, 65535, 'vfIndex');
  const all = await readAllVfKnobs(ip, pfNetdev, opts);
  const k = all.get(vfIndex);
  if (!k) {
    throw new NotFoundError(`VF ${vfIndex} of ${pfNetdev}`, {
      message: `read VF ${vfIndex} knobs of ${pfNetdev}: the PF lists ${all.size} VFs`,
    });
  }
  return k;
}

export interface VfKnobsChange {
  /** What was set, with vlan/qos/proto and min/max rate completed as pairs. */
  applied: VfKnobs;
  /** The values `applied` replaced: pass to applyVfKnobs to restore. */
  previous: VfKnobs;
}

/** argv after `ip`: one `link set dev <pf> vf N …` carrying every knob. */
export function vfKnobsArgs(pfNetdev: string, vfIndex: number, k: VfKnobs): string[] {
  const a = ['link', 'set', 'dev', pfNetdev, 'vf', String(vfIndex)];
  if (k.mac !== undefined) a.push('mac', k.mac);
  if (k.vlan !== undefined) {
    a.push('vlan', String(k.vlan));
    // iproute2 defaults are qos 0 / 802.1Q; naming proto switches it to IFLA_VF_VLAN_LIST,
    // which older drivers reject, so defaults are left unsaid.
    if (k.qos) a.push('qos', String(k.qos));
    if (k.proto && k.proto !== '802.1Q') a.push('proto', k.proto);
  }
  if (k.spoofchk !== undefined) a.push('spoofchk', k.spoofchk);
  if (k.trust !== undefined) a.push('trust', k.trust);
  if (k.linkState !== undefined) a.push('state', k.linkState);
  if (k.minTxRate !== undefined) a.push('min_tx_rate', String(k.minTxRate));
  if (k.maxTxRate !== undefined) a.push('max_tx_rate', String(k.maxTxRate));
  return a;
}

/**
 * Validates every knob, reads the current values (the restore snapshot), then sets them all
 * with one `ip link set <pf> vf N …`. A rate is always sent as a min/max pair and a vlan
 * with its qos/proto, completed from the current values, as the kernel sets them together.
 */
export async function applyVfKnobs(
  ip: Ip,
  pfNetdev: string,
  vfIndex: number,
  knobs: VfKnobs,
  opts: KnobOptions = {},
): Promise<VfKnobsChange> {
  const pf = assertIfName(pfNetdev, 'PF netdev');
  assertIntInRange(vfIndex, 0, 65535, 'vfIndex');
  const want = validateKnobs(knobs);
  if (Object.keys(want).length === 0) return { applied: {}, previous: {} };
  if (want.minTxRate !== undefined && want.maxTxRate !== undefined) {
    assertRates(want.minTxRate, want.maxTxRate);
  }
  const cur = await readVfKnobs(ip, pf, vfIndex, opts);
  const applied: VfKnobs = { ...want };
  if (want.vlan !== undefined) {
    applied.qos = want.qos ?? 0;
    applied.proto = want.proto ?? '802.1Q';
  }
  if (want.minTxRate !== undefined || want.maxTxRate !== undefined) {
    applied.minTxRate = want.minTxRate ?? cur.minTxRate ?? 0;
    applied.maxTxRate = want.maxTxRate ?? cur.maxTxRate ?? 0;
    assertRates(applied.minTxRate, applied.maxTxRate);
  }
  const previous: VfKnobs = {};
  for (const key of Object.keys(applied) as (keyof VfKnobs)[]) {
    const v = cur[key];
    if (v !== undefined) Object.assign(previous, { [key]: v });
  }
  await ip.run(opts.netns ?? null, vfKnobsArgs(pf, vfIndex, applied));
  return { applied, previous };
}
