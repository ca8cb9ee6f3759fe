import type { LinkState, VfKnobs } from './knob-types.js';

const LINK_STATES: readonly LinkState[] = ['auto', 'enable', 'disable'];

/**
 * VF lines of `ip link show` text, for iproute2 without `-j` (before 4.13). Two spellings:
 *   vf 0 MAC 0e:4e:1c:6c:cc:ab, spoof checking off, link-state auto, trust off, query_rss off
 *   vf 0     link/ether 00:00:00:00:00:00 brd ff:ff:ff:ff:ff:ff, spoof checking off, link-state disable, …
 * plus `, vlan N`, `, qos N`, `, vlan protocol 802.1ad`, `, tx rate N (Mbps)`,
 * `, max_tx_rate NMbps`, `, min_tx_rate NMbps`. Lines that are no link header and no VF line
 * (details, `...` elisions) are skipped.
 */
export function parseVfInfoText(text: string, pfNetdev?: string): Map<number, VfKnobs> {
  const out = new Map<number, VfKnobs>();
  let current: string | null = null;
  for (const line of text.split(/\r?\n/)) {
    const header = /^\d+:\s+([^\s:@]+)(?:@\S+)?:/.exec(line);
    if (header) {
      current = header[1] ?? null;
      continue;
    }
    if (pfNetdev !== undefined && current !== pfNetdev) continue;
    const vf =
      /^\s+vf (\d+)\s+(?:MAC ([0-9a-fA-F:]+)|link\/\S+ ([0-9a-fA-F:]+)(?: brd \S+?)?)(,.*)?$/.exec(
        line,
      );
    if (!vf) continue;
    // Text prints vlan, qos and rates only when non-zero.
    const knobs: VfKnobs = {
      mac: (vf[2] ?? vf[3] ?? '').toLowerCase(),
      vlan: 0,
      qos: 0,
      proto: '802.1Q',
      minTxRate: 0,
      maxTxRate: 0,
    };
    for (const raw of (vf[4] ?? '').split(',')) applyItem(knobs, raw.trim());
    out.set(Number(vf[1]), knobs);
  }
  return out;
}

function applyItem(k: VfKnobs, item: string): void {
  let m: RegExpExecArray | null;
  if ((m = /^vlan (\d+)$/.exec(item))) {
    k.vlan = Number(m[1]);
  } else if ((m = /^qos (\d+)$/.exec(item))) k.qos = Number(m[1]);
  else if ((m = /^vlan protocol (\S+)$/.exec(item))) {
    k.proto = m[1]?.toLowerCase() === '802.1ad' ? '802.1ad' : '802.1Q';
  } else if ((m = /^(?:tx rate|max_tx_rate) (\d+)\s*(?:\(Mbps\)|Mbps)$/.exec(item))) {
    k.maxTxRate = Number(m[1]);
  } else if ((m = /^min_tx_rate (\d+)\s*Mbps$/.exec(item))) k.minTxRate = Number(m[1]);
  else if ((m = /^spoof checking (on|off)$/.exec(item))) k.spoofchk = m[1] === 'on' ? 'on' : 'off';
  else if ((m = /^trust (on|off)$/.exec(item))) k.trust = m[1] === 'on' ? 'on' : 'off';
  else if ((m = /^link-state (auto|enable|disable)$/.exec(item))) {
    k.linkState = LINK_STATES.find((s) => s === m?.[1]) ?? 'auto';
  }
}
