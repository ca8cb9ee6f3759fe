import { isPciAddress } from '../sys/index.js';

/**
 * An OVS DPDK port's `options:dpdk-devargs`, read back: which device the PMD opened and, for
 * a representor port, which VFs. The forms PMDs take (DPDK's rte_eth_devargs grammar):
 * `<PF>,representor=[1]`, `[0-3]`, `[0,2]`, `vf1`, `pf0vf1`, `c0pf0vf1` (a controller: not a
 * host-local VF, like devlink's external ports), and a bare `<PF>` for the PF's own
 * (uplink) port. A vdev (`net_af_packet0,iface=…`) names no PCI device.
 */
export interface DpdkDevargs {
  /** The device part (before the first comma), as written. */
  device: string;
  /** Lowercase PCI address of `device`, null for a vdev or anything else. */
  pci: string | null;
  /**
   * null: no `representor=` (the PF/uplink port itself). Otherwise the VF indexes it names,
   * the PF number when the form carries one (`pf1vf2`), and whether it is host-local.
   */
  representor: { vfs: number[]; pf: number | null; hostLocal: boolean } | null;
}

/** Splits on commas outside `[...]` (DPDK's own rule: a list sits in brackets). */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '[') depth++;
    if (ch === ']') depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

const MAX_LIST = 4096;

/** `1`, `0-3`, `0,2,5-6` → indexes; null when anything is not a number or range. */
function parseList(text: string): number[] | null {
  const out: number[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d{1,5})(?:\s*-\s*(\d{1,5}))?\s*$/.exec(part);
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || out.length + (b - a + 1) > MAX_LIST) return null;
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

function unbracket(v: string): string {
  return v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1) : v;
}

/** `[1]`, `vf1`, `pf0vf[1-2]`, `c1pf0vf1` → the representor part; null when unreadable. */
export function parseRepresentorValue(value: string): DpdkDevargs['representor'] {
  const v = value.trim();
  const m = /^(?:c(\d+|\[[^\]]*\]))?(?:pf(\d+))?(?:vf)?(\d[\d,-]*|\[[^\]]*\])$/.exec(v);
  if (!m) return null;
  const vfs = parseList(unbracket(m[3] ?? ''));
  if (vfs === null) return null;
  const controller = m[1] === undefined ? null : unbracket(m[1]);
  return {
    vfs,
    pf: m[2] === undefined ? null : Number(m[2]),
    hostLocal: controller === null || controller === '0',
  };
}

/** null when the text has no device part at all. */
export function parseDpdkDevargs(text: string): DpdkDevargs | null {
  const parts = splitTop(text.trim());
  const device = (parts[0] ?? '').trim();
  if (device === '') return null;
  let representor: DpdkDevargs['representor'] = null;
  for (const kv of parts.slice(1)) {
    const eq = kv.indexOf('=');
    if (eq < 0 || kv.slice(0, eq).trim() !== 'representor') continue;
    representor = parseRepresentorValue(kv.slice(eq + 1)) ?? {
      vfs: [],
      pf: null,
      hostLocal: false,
    };
  }
  return { device, pci: isPciAddress(device) ? device.toLowerCase() : null, representor };
}

/**
 * The VF index a representor port stands for when it stands for exactly one host-local VF
 * of `pfPci` (a range opens several ports: OVS names only the first).
 */
export function dpdkRepresentedVf(d: DpdkDevargs, pfPci: string): number | null {
  if (d.pci !== pfPci.toLowerCase() || d.representor === null) return null;
  const r = d.representor;
  return r.hostLocal && r.vfs.length === 1 ? (r.vfs[0] ?? null) : null;
}
