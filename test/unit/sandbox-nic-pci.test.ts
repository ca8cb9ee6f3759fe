import { describe, expect, it } from 'vitest';
import { IDENTITIES } from '../../src/sandbox/nic/identity.js';
import { pfPci, sriovOffset, vfPci } from '../../src/sandbox/nic/pci.js';

describe('emulated PCI layout of VFs', () => {
  it('a 512-VF metaScale PF: VF RID = PF RID + First VF Offset + n × stride, across devices and buses', () => {
    const id = IDENTITIES.metascale;
    expect(id.totalVfs).toBe(512);
    const pf = { index: 0, totalVfs: 512 };
    expect(pfPci(3, 0)).toBe('0000:03:00.0');
    expect(sriovOffset(id, pf)).toBe(2);
    const at = (n: number) => vfPci(3, id, pf, n);
    expect(at(0)).toBe('0000:03:00.2');
    expect(at(5)).toBe('0000:03:00.7');
    expect(at(6)).toBe('0000:03:01.0'); // next device number
    expect(at(253)).toBe('0000:03:1f.7');
    expect(at(254)).toBe('0000:04:00.0'); // next bus
    expect(at(511)).toBe('0000:05:00.1');
    const all = Array.from({ length: 512 }, (_, n) => at(n));
    expect(new Set(all).size).toBe(512);
  });

  it("a second PF's VFs follow the first PF's, never overlapping them", () => {
    const id = IDENTITIES.metascale;
    const pf0 = Array.from({ length: 512 }, (_, n) => vfPci(3, id, { index: 0, totalVfs: 512 }, n));
    const pf1 = Array.from({ length: 512 }, (_, n) => vfPci(3, id, { index: 1, totalVfs: 512 }, n));
    expect(pf1[0]).toBe('0000:05:00.2');
    expect(pf0.filter((a) => pf1.includes(a))).toEqual([]);
  });
});
