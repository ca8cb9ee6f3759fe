import type { PoolDevice } from './model.js';

/**
 * sriov-network-device-plugin selectors, matched against our device model. Every non-empty
 * list must contain the device's value (AND across keys, OR within a list), as upstream.
 */

export interface IndexRange {
  from: number;
  to: number;
}

/** `ens1f0`, `ens1f0#0,2-5` (pfNames) or `0000:03:00.0#1-3` (rootDevices). */
export interface IndexedName {
  /** PF name (lowercased: matched case-insensitively) or PF PCI address. */
  name: string;
  /** null: every VF of that PF. */
  indexes: IndexRange[] | null;
}

export interface Selector {
  vendors: string[];
  devices: string[];
  drivers: string[];
  pfNames: IndexedName[];
  rootDevices: IndexedName[];
  pciAddresses: string[];
  linkTypes: string[];
  isRdma: boolean;
  needVhostNet: boolean;
}

export const EMPTY_SELECTOR: Selector = {
  vendors: [],
  devices: [],
  drivers: [],
  pfNames: [],
  rootDevices: [],
  pciAddresses: [],
  linkTypes: [],
  isRdma: false,
  needVhostNet: false,
};

/**
 * Parses `<name>[#<i>[,<i>|<from>-<to>]...]`. Returns a reason string when malformed, so the
 * config loader can name the offending entry (upstream only logged and matched nothing).
 */
export function parseIndexedName(raw: string): IndexedName | string {
  const parts = raw.split('#');
  if (parts.length > 2) return 'has more than one "#"';
  const [name = '', spec] = parts;
  if (name.trim() === '') return 'has no name before "#"';
  if (spec === undefined) return { name, indexes: null };
  if (spec.trim() === '') return 'has no VF index after "#"';
  const indexes: IndexRange[] = [];
  for (const entry of spec.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(entry);
    if (!m) return `has a bad VF index ${JSON.stringify(entry)} (use N or N-M)`;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) return `has a reversed range ${JSON.stringify(entry.trim())}`;
    indexes.push({ from, to });
  }
  return { name, indexes };
}

function indexSelected(idx: number, ranges: IndexRange[] | null): boolean {
  return ranges === null || ranges.some((r) => idx >= r.from && idx <= r.to);
}

/** Any entry naming this PF whose ranges include the VF (names are case-insensitive). */
function matchIndexed(
  entries: IndexedName[],
  value: string | null,
  vfIndex: number,
  fold: boolean,
): boolean {
  if (value === null) return false;
  const v = fold ? value.toLowerCase() : value;
  return entries.some(
    (e) => (fold ? e.name.toLowerCase() : e.name) === v && indexSelected(vfIndex, e.indexes),
  );
}

function inList(list: string[], value: string | null): boolean {
  return list.length === 0 || (value !== null && list.includes(value));
}

export function matchesSelector(dev: PoolDevice, sel: Selector): boolean {
  if (!inList(sel.vendors, dev.vendor)) return false;
  if (!inList(sel.devices, dev.device)) return false;
  if (!inList(sel.drivers, dev.driver)) return false;
  if (!inList(sel.pciAddresses, dev.pci)) return false;
  if (sel.pfNames.length > 0 && !matchIndexed(sel.pfNames, dev.pfName, dev.vfIndex, true)) {
    return false;
  }
  if (sel.rootDevices.length > 0 && !matchIndexed(sel.rootDevices, dev.pfPci, dev.vfIndex, false)) {
    return false;
  }
  if (!inList(sel.linkTypes, dev.linkType?.toLowerCase() ?? null)) return false;
  if (sel.isRdma && dev.rdma.length === 0) return false;
  return true;
}

/** Index of the first selector the device matches, or -1. */
export function firstMatch(dev: PoolDevice, selectors: readonly Selector[]): number {
  return selectors.findIndex((s) => matchesSelector(dev, s));
}
