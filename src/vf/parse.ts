import { isPciAddress } from '../sys/index.js';
import type { FunctionSnapshot, NetdevSnapshot } from './snapshot.js';
import type { NetdevInfo } from './types.js';

/** Small, pure readers of sysfs attribute texts, each in the kernel's own format. */

/** `vendor`/`device` ("0x15b3") → "15b3"; null when absent or malformed. */
export function hexId(text: string | null): string | null {
  if (text === null) return null;
  const m = /^0x([0-9a-f]{1,4})$/i.exec(text.trim());
  return m?.[1] ? m[1].toLowerCase().padStart(4, '0') : null;
}

/** PCI base class 0x02 (network controller), from `class` ("0x020000"). */
export function isNetworkClass(text: string | null): boolean {
  if (text === null || !/^0x[0-9a-f]{6}$/i.test(text.trim())) return false;
  return Number.parseInt(text.trim(), 16) >> 16 === 0x02;
}

export function uint(text: string | null): number | null {
  if (text === null || !/^\d+$/.test(text.trim())) return null;
  return Number(text.trim());
}

/** `numa_node`: -1 means "no affinity" (single node, or firmware did not say). */
export function numaNode(text: string | null): number | null {
  if (text === null || !/^-?\d+$/.test(text.trim())) return null;
  const n = Number(text.trim());
  return n < 0 ? null : n;
}

export function carrier(text: string | null): boolean | null {
  const t = text?.trim();
  return t === '1' ? true : t === '0' ? false : null;
}

/** `driver_override` prints "(null)" when unset. */
export function driverOverride(text: string | null): string | null {
  const t = text?.trim() ?? '';
  return t === '' || t === '(null)' ? null : t;
}

function nonEmpty(text: string | null): string | null {
  const t = text?.trim() ?? '';
  return t === '' ? null : t;
}

export function netdevInfo(s: NetdevSnapshot): NetdevInfo {
  return {
    name: s.name,
    mac: nonEmpty(s.address),
    operstate: nonEmpty(s.operstate),
    carrier: carrier(s.carrier),
    physPortName: nonEmpty(s.physPortName),
    physSwitchId: nonEmpty(s.physSwitchId),
    devPort: uint(s.devPort),
  };
}

/** `virtfnN` links ordered by N as a number: `ls` puts virtfn10 before virtfn2. */
export function orderedVfs(fn: FunctionSnapshot): { index: number; pci: string }[] {
  return fn.virtfns
    .map((v) => ({ index: Number(v.link.slice('virtfn'.length)), pci: v.pci.toLowerCase() }))
    .filter((v) => Number.isInteger(v.index) && isPciAddress(v.pci))
    .sort((a, b) => a.index - b.index);
}

/** Names with a numeric suffix (uverbs10 after uverbs9), then plain name order. */
export function naturalSort(names: readonly string[]): string[] {
  const key = (s: string) => /^(.*?)(\d+)$/.exec(s);
  return [...names].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka && kb && ka[1] === kb[1]) return Number(ka[2]) - Number(kb[2]);
    return a < b ? -1 : a > b ? 1 : 0;
  });
}
