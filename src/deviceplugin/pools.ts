import type { ResourceConfig } from './config.js';
import type { PoolDevice } from './model.js';
import { firstMatch } from './selectors.js';

/** A device in a pool, with the selector that took it (isRdma/needVhostNet are per selector). */
export interface PoolMember {
  device: PoolDevice;
  selectorIndex: number;
}

/**
 * Splits the node's devices into pools: each device goes to the first resource (in config
 * order) with a matching selector, and within it to the first matching selector. A device is
 * never in two pools: the kubelet would count it twice and could give it to two pods.
 */
export function assignPools(
  devices: readonly PoolDevice[],
  resources: readonly ResourceConfig[],
): Map<string, PoolMember[]> {
  const pools = new Map<string, PoolMember[]>(resources.map((r) => [r.fullName, []]));
  for (const device of devices) {
    for (const r of resources) {
      const selectorIndex = firstMatch(device, r.selectors);
      if (selectorIndex >= 0) {
        pools.get(r.fullName)?.push({ device, selectorIndex });
        break;
      }
    }
  }
  for (const members of pools.values()) members.sort((a, b) => cmpPci(a.device, b.device));
  return pools;
}

export function cmpPci(a: { pci: string }, b: { pci: string }): number {
  return a.pci < b.pci ? -1 : a.pci > b.pci ? 1 : 0;
}
