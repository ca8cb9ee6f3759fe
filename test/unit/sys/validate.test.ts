import { describe, expect, it } from 'vitest';
import {
  assertIfName,
  assertPciAddress,
  formatPciAddress,
  fromRoutingId,
  InvalidInputError,
  isIfName,
  parsePciAddress,
  routingId,
} from '../../../src/sys/index.js';

describe('interface names (kernel dev_valid_name)', () => {
  it.each([
    ['eth0', true],
    ['enp216s0f0np0', true],
    ['a'.repeat(15), true],
    ['a'.repeat(16), false],
    ['', false],
    ['.', false],
    ['..', false],
    ['eth/0', false],
    ['eth:0', false],
    ['eth 0', false],
    ['eth\t0', false],
  ])('%j → %s', (name, ok) => {
    expect(isIfName(name)).toBe(ok);
  });

  it('names the field in the error', () => {
    expect(() => assertIfName('bad/name', 'CNI_IFNAME')).toThrow(
      /CNI_IFNAME: "bad\/name" is not a valid interface name/,
    );
    expect(() => assertIfName('bad/name')).toThrow(InvalidInputError);
  });
});

describe('PCI addresses', () => {
  it.each(['0000:03:00.2', '0000:D8:00.5', 'ffff:ff:1f.7'])('accepts %s', (a) => {
    expect(assertPciAddress(a)).toBe(a.toLowerCase());
  });

  it.each([
    '03:00.2',
    '0000:03:00',
    '0000:03:20.0',
    '0000:03:00.8',
    '0000:3:00.0',
    '0000:03:00.2 ',
    '../../etc',
  ])('rejects %j', (a) => {
    expect(() => assertPciAddress(a, 'deviceID')).toThrow(/deviceID: .* is not a PCI address/);
  });

  it('round-trips through routing IDs (SR-IOV offset/stride arithmetic)', () => {
    const pf = parsePciAddress('0000:b3:00.0');
    expect(routingId(pf)).toBe(0xb300);
    // 10 VFs at offset 2 stride 1 cross into device 01 (seed 004: b3:00.2 .. b3:01.3)
    const last = fromRoutingId(0, routingId(pf) + 2 + 9);
    expect(formatPciAddress(last)).toBe('0000:b3:01.3');
  });
});
