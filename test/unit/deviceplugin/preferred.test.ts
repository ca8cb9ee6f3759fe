import { describe, expect, it } from 'vitest';
import { preferredAllocation } from '../../../src/deviceplugin/preferred.js';
import type { PoolDevice } from '../../../src/deviceplugin/model.js';
import { vf } from '../../helpers/deviceplugin-devices.js';

// Two PFs on NUMA 0 (A, B) and one on NUMA 1 (C), four VFs each.
const devices: PoolDevice[] = [
  ['0000:03:00.0', 0, 'a'],
  ['0000:04:00.0', 0, 'b'],
  ['0000:81:00.0', 1, 'c'],
].flatMap(([pfPci, numa, tag]) =>
  [0, 1, 2, 3].map((i) =>
    vf({ pci: `${tag}${i}`, pfPci: pfPci as string, numa: numa as number, vfIndex: i }),
  ),
);
const byId = new Map(devices.map((d) => [d.pci, d]));
const lookup = (id: string) => byId.get(id);
const all = devices.map((d) => d.pci);

describe('GetPreferredAllocation', () => {
  it.each<[string, string[], string[], number, string[]]>([
    ['nothing required: lowest VF indexes of one PF', all, [], 3, ['a0', 'a1', 'a2']],
    ['follows the PF of must-include', all, ['c2'], 3, ['c2', 'c0', 'c1']],
    [
      'most-allocated PF of must-include wins',
      all,
      ['b3', 'a1', 'b2'],
      4,
      ['b3', 'a1', 'b2', 'b0'],
    ],
    [
      'PF full: same NUMA node next',
      all.filter((id) => id !== 'a0' && id !== 'a1'),
      ['a3'],
      4,
      ['a3', 'a2', 'b0', 'b1'],
    ],
    [
      'must-include on NUMA 1: its PF first, then the lowest index anywhere',
      ['c1', 'a0', 'b0', 'c3'],
      ['c1'],
      3,
      ['c1', 'c3', 'a0'],
    ],
    ['size already met by must-include', all, ['a3', 'b3'], 2, ['a3', 'b3']],
    ['fewer available than asked: all of them', ['a1', 'b2'], [], 5, ['a1', 'b2']],
    ['unknown available IDs are never preferred', ['zz', 'a2'], [], 2, ['a2']],
  ])('%s', (_n, available, must, size, want) => {
    expect(preferredAllocation(available, must, size, lookup)).toEqual(want);
  });
});
