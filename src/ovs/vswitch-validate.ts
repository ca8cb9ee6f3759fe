import { InvalidInputError, isIfName } from '../sys/index.js';
import { OWNER_KEY, type AttachPortRequest } from './vswitch-types.js';

/**
 * Input checks of the vswitch API: bad input fails with InvalidInputError before anything is
 * sent, so a rejected call has changed nothing.
 */

/** Userspace (DPDK) ports are not kernel netdevs, so IFNAMSIZ does not bind their names. */
function isUserspaceType(type: string): boolean {
  return type.startsWith('dpdk');
}

export function assertPortName(name: unknown, field: string, type = ''): string {
  if (typeof name !== 'string') throw new InvalidInputError(field, 'must be a string');
  if (isUserspaceType(type)) {
    if (name.length === 0 || name.length > 255 || /[\s/\p{Cc}]/u.test(name)) {
      throw new InvalidInputError(field, `${JSON.stringify(name)} is not a valid port name`);
    }
    return name;
  }
  if (!isIfName(name)) {
    throw new InvalidInputError(
      field,
      `${JSON.stringify(name)} is not a valid interface name (1-15 bytes, no '/', ':' or whitespace)`,
    );
  }
  return name;
}

export function assertStringMap(value: unknown, field: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInputError(field, 'must be an object of strings');
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.length === 0) throw new InvalidInputError(field, 'has an empty key');
    if (typeof v !== 'string') throw new InvalidInputError(`${field}.${k}`, 'must be a string');
    out[k] = v;
  }
  return out;
}

function assertInt(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidInputError(field, `must be an integer in ${min}-${max}`);
  }
  return value;
}

/** Returns the request normalised (defaults filled, owner key set) or throws. */
export function validateAttach(
  req: AttachPortRequest,
  owner: string,
): Required<Omit<AttachPortRequest, 'ofportRequest' | 'tag' | 'mtuRequest'>> &
  Pick<AttachPortRequest, 'ofportRequest' | 'tag' | 'mtuRequest'> {
  const type = req.type ?? '';
  if (typeof type !== 'string' || !/^[a-z0-9_-]*$/.test(type)) {
    throw new InvalidInputError('type', `${JSON.stringify(type)} is not an interface type`);
  }
  const bridge = assertPortName(req.bridge, 'bridge');
  const name = assertPortName(req.name, 'name', type);
  const ifaceIds = assertStringMap(req.interfaceExternalIds, 'interfaceExternalIds');
  const portIds = assertStringMap(req.portExternalIds ?? {}, 'portExternalIds');
  for (const [field, ids] of [
    ['interfaceExternalIds', ifaceIds],
    ['portExternalIds', portIds],
  ] as const) {
    const o = ids[OWNER_KEY];
    if (o !== undefined && o !== owner) {
      throw new InvalidInputError(`${field}.${OWNER_KEY}`, `must be this node's owner ${owner}`);
    }
  }
  return {
    bridge,
    name,
    type,
    options: assertStringMap(req.options ?? {}, 'options'),
    interfaceExternalIds: { ...ifaceIds, [OWNER_KEY]: owner },
    portExternalIds: { ...portIds, [OWNER_KEY]: owner },
    // OpenFlow port numbers 1..0xfeff; above are reserved (OFPP_MAX).
    ...(req.ofportRequest !== undefined
      ? { ofportRequest: assertInt(req.ofportRequest, 'ofportRequest', 1, 0xfeff) }
      : {}),
    ...(req.tag !== undefined ? { tag: assertInt(req.tag, 'tag', 0, 4095) } : {}),
    ...(req.mtuRequest !== undefined
      ? { mtuRequest: assertInt(req.mtuRequest, 'mtuRequest', 68, 65535) }
      : {}),
  };
}

export function assertOwner(owner: unknown): string {
  if (typeof owner !== 'string' || owner.length === 0) {
    throw new InvalidInputError('owner', 'must be a non-empty string (the node name)');
  }
  return owner;
}

/** other_config values: strings to set, null to remove. */
export function checkConfigValues(
  values: Record<string, string | null>,
): Record<string, string | null> {
  if (typeof values !== 'object' || values === null) {
    throw new InvalidInputError('other_config', 'must be an object');
  }
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(values)) {
    if (k.length === 0) throw new InvalidInputError('other_config', 'has an empty key');
    if (v !== null && typeof v !== 'string') {
      throw new InvalidInputError(`other_config.${k}`, 'must be a string or null');
    }
    out[k] = v;
  }
  return out;
}
