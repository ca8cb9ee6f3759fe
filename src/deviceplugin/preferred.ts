import type { PoolDevice } from './model.js';

/**
 * GetPreferredAllocation: pack a pod's VFs onto as few PFs and NUMA nodes as possible. Greedy,
 * one VF at a time: prefer the PF that already holds the most of the chosen set (starting
 * from must-include), then the NUMA node most of the chosen set is on, then the lowest VF
 * index (then PF address, so the answer is deterministic).
 */
export function preferredAllocation(
  available: readonly string[],
  mustInclude: readonly string[],
  size: number,
  lookup: (id: string) => PoolDevice | undefined,
): string[] {
  const chosen: string[] = [];
  const seen = new Set<string>();
  for (const id of mustInclude) {
    if (seen.has(id)) continue;
    seen.add(id);
    chosen.push(id);
  }
  const candidates: PoolDevice[] = [];
  for (const id of available) {
    if (seen.has(id)) continue;
    const dev = lookup(id);
    // An ID we no longer know (a VF removed since the kubelet's last list) is never preferred.
    if (dev === undefined) continue;
    seen.add(id);
    candidates.push(dev);
  }
  const perPf = new Map<string, number>();
  const perNuma = new Map<number, number>();
  const count = (dev: PoolDevice) => {
    perPf.set(dev.pfPci, (perPf.get(dev.pfPci) ?? 0) + 1);
    if (dev.numa !== null) perNuma.set(dev.numa, (perNuma.get(dev.numa) ?? 0) + 1);
  };
  for (const id of chosen) {
    const dev = lookup(id);
    if (dev) count(dev);
  }
  while (chosen.length < size && candidates.length > 0) {
    let best = 0;
    for (let i = 1; i < candidates.length; i++) {
      if (better(candidates[i]!, candidates[best]!, perPf, perNuma)) best = i;
    }
    const [dev] = candidates.splice(best, 1);
    if (!dev) break;
    chosen.push(dev.pci);
    count(dev);
  }
  return chosen;
}

function better(
  a: PoolDevice,
  b: PoolDevice,
  perPf: ReadonlyMap<string, number>,
  perNuma: ReadonlyMap<number, number>,
): boolean {
  const pfA = perPf.get(a.pfPci) ?? 0;
  const pfB = perPf.get(b.pfPci) ?? 0;
  if (pfA !== pfB) return pfA > pfB;
  const numaA = a.numa === null ? 0 : (perNuma.get(a.numa) ?? 0);
  const numaB = b.numa === null ? 0 : (perNuma.get(b.numa) ?? 0);
  if (numaA !== numaB) return numaA > numaB;
  if (a.vfIndex !== b.vfIndex) return a.vfIndex < b.vfIndex;
  return a.pfPci < b.pfPci;
}
