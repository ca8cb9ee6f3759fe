import { InvalidInputError } from './errors.js';

/**
 * Validation of host identifiers before they reach a command or a path. The rules are the
 * kernel's own, so a value we accept is one the kernel would accept too.
 */

/** dev_valid_name(): 1..15 bytes (IFNAMSIZ 16 with NUL), not "." or "..", no '/', ':' or space. */
export function isIfName(name: string): boolean {
  if (name.length === 0 || Buffer.byteLength(name) > 15) return false;
  if (name === '.' || name === '..') return false;
  return !/[/:\s]/.test(name);
}

export function assertIfName(name: string, field = 'interface name'): string {
  if (!isIfName(name)) {
    throw new InvalidInputError(
      field,
      `${JSON.stringify(name)} is not a valid interface name (1-15 bytes, no '/', ':' or whitespace)`,
    );
  }
  return name;
}

const PCI_RE = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-1][0-9a-f])\.([0-7])$/;

export interface PciAddress {
  domain: number;
  bus: number;
  device: number;
  fn: number;
}

/** A PCI address in the kernel's sysfs form DDDD:BB:DD.F (lowercase hex); case-insensitive input. */
export function isPciAddress(bdf: string): boolean {
  return PCI_RE.test(bdf.toLowerCase());
}

export function assertPciAddress(bdf: string, field = 'PCI address'): string {
  const lower = bdf.toLowerCase();
  if (!PCI_RE.test(lower)) {
    throw new InvalidInputError(
      field,
      `${JSON.stringify(bdf)} is not a PCI address of the form DDDD:BB:DD.F (e.g. 0000:03:00.2)`,
    );
  }
  return lower;
}

export function parsePciAddress(bdf: string): PciAddress {
  const m = PCI_RE.exec(assertPciAddress(bdf));
  if (!m) throw new InvalidInputError('PCI address', bdf);
  return {
    domain: parseInt(m[1] ?? '0', 16),
    bus: parseInt(m[2] ?? '0', 16),
    device: parseInt(m[3] ?? '0', 16),
    fn: parseInt(m[4] ?? '0', 16),
  };
}

export function formatPciAddress(a: PciAddress): string {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.device, 2)}.${a.fn}`;
}

/** The 16-bit routing ID (bus<<8 | devfn) that SR-IOV offsets and strides are counted in. */
export function routingId(a: PciAddress): number {
  return (a.bus << 8) | (a.device << 3) | a.fn;
}

export function fromRoutingId(domain: number, rid: number): PciAddress {
  return { domain, bus: (rid >> 8) & 0xff, device: (rid >> 3) & 0x1f, fn: rid & 0x7 };
}

/** An absolute path without NUL, "." or ".." segments (so it cannot climb out of a root). */
export function assertAbsolutePath(p: string, field = 'path'): string {
  if (!p.startsWith('/') || p.includes('\0') || p.split('/').some((s) => s === '..' || s === '.')) {
    throw new InvalidInputError(field, `${JSON.stringify(p)} is not a clean absolute path`);
  }
  return p;
}

/** A relative path below a root: no NUL, no absolute start, no ".." segments. */
export function assertRelativePath(p: string, field = 'path'): string {
  if (p.startsWith('/') || p.includes('\0') || p.split('/').some((s) => s === '..')) {
    throw new InvalidInputError(field, `${JSON.stringify(p)} escapes its root`);
  }
  return p;
}

/** A MAC address as the kernel prints it (six colon-separated hex octets); returns lowercase. */
export function assertMac(mac: string, field = 'mac'): string {
  const lower = mac.toLowerCase();
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(lower)) {
    throw new InvalidInputError(field, `${JSON.stringify(mac)} is not a MAC address`);
  }
  return lower;
}

/** An integer in [min, max], named in the error. */
export function assertIntInRange(v: unknown, min: number, max: number, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidInputError(field, `${JSON.stringify(v)} is not an integer in ${min}..${max}`);
  }
  return v;
}
