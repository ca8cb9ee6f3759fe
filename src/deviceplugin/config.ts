import { z } from 'zod';
import { InvalidInputError, isIfName, isPciAddress } from '../sys/index.js';
import { EMPTY_SELECTOR, parseIndexedName, type IndexedName, type Selector } from './selectors.js';

/**
 * The sriov-network-device-plugin `config.json` (resourceList), read unchanged. Like Go's
 * encoding/json, keys match case-insensitively (upstream docs write `"IsRdma"`). Unlike
 * upstream, a key nobody knows is an error: a typo such as `"pfName"` would silently widen a
 * pool there. Every problem is reported with its path (`resourceList[1].selectors.pfNames[0]`).
 */

export const DEFAULT_RESOURCE_PREFIX = 'intel.com';

export interface ResourceConfig {
  resourceName: string;
  resourcePrefix: string;
  /** `<prefix>/<name>`: the extended resource pods request. */
  fullName: string;
  deviceType: 'netDevice';
  excludeTopology: boolean;
  /** Our extension (ignored by upstream): VFs are Unhealthy while their PF is not in switchdev. */
  requireSwitchdev: boolean;
  /** Ordered: a device belongs to the first selector it matches. */
  selectors: Selector[];
}

export interface ParsedResourceList {
  resources: ResourceConfig[];
  warnings: string[];
}

type Path = (string | number)[];

interface Issue {
  path: Path;
  message: string;
}

export function formatPath(path: Path): string {
  return path.reduce<string>(
    (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p),
    '',
  );
}

// Kubernetes extended resource names: a DNS subdomain prefix and a qualified-name part.
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const RESOURCE_NAME = /^[A-Za-z0-9_-]+$/;
const QUALIFIED_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

const resourcePrefix = z
  .string()
  .max(253)
  .regex(DNS_SUBDOMAIN, { message: 'must be a lowercase DNS subdomain such as "intel.com"' });

const hexId = z
  .string()
  .regex(/^(0x)?[0-9a-fA-F]{4}$/, { message: 'must be a 4-digit hex PCI id such as "15b3"' })
  .transform((s) => s.toLowerCase().replace(/^0x/, ''));

const nonEmpty = z.string().min(1, { message: 'must not be empty' });

const pciAddress = z
  .string()
  .refine(isPciAddress, { message: 'must be a PCI address such as "0000:03:00.2"' })
  .transform((s) => s.toLowerCase());

function indexed(kind: 'pfNames' | 'rootDevices') {
  return z.string().transform((raw, ctx): IndexedName => {
    const r = parseIndexedName(raw);
    if (typeof r === 'string') {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(raw)} ${r}` });
      return z.NEVER;
    }
    if (kind === 'pfNames' && !isIfName(r.name)) {
      ctx.addIssue({
        code: 'custom',
        message: `${JSON.stringify(r.name)} is not an interface name`,
      });
      return z.NEVER;
    }
    if (kind === 'rootDevices') {
      if (!isPciAddress(r.name)) {
        ctx.addIssue({
          code: 'custom',
          message: `${JSON.stringify(r.name)} is not a PCI address such as "0000:03:00.0"`,
        });
        return z.NEVER;
      }
      return { ...r, name: r.name.toLowerCase() };
    }
    return r;
  });
}

/** Go decodes JSON null into an empty slice: accept it. */
function list<T extends z.ZodType>(item: T) {
  return z
    .array(item, { message: 'must be a list, e.g. ["…"]' })
    .nullish()
    .transform((v) => v ?? []);
}

const flag = z
  .boolean()
  .nullish()
  .transform((v) => v ?? false);

/** Upstream selector keys for device kinds we do not serve (DDP, vDPA, IB pkeys, SFs). */
const UNSUPPORTED_SELECTORS: Record<string, string> = {
  acpiIndexes: 'ACPI indexes name PFs, and ovs-offload hands out VFs',
  ddpProfiles: 'Intel DDP profiles are not read',
  vdpaType: 'vDPA devices are not served',
  pKeys: 'InfiniBand partition keys are not read',
  auxTypes: 'auxiliary (SF) devices are not served',
};

const SelectorSchema = z.strictObject({
  vendors: list(hexId),
  devices: list(hexId),
  drivers: list(nonEmpty),
  pfNames: list(indexed('pfNames')),
  rootDevices: list(indexed('rootDevices')),
  pciAddresses: list(pciAddress),
  linkTypes: list(nonEmpty.transform((s) => s.toLowerCase())),
  isRdma: flag,
  needVhostNet: flag,
  ...Object.fromEntries(Object.keys(UNSUPPORTED_SELECTORS).map((k) => [k, z.unknown().optional()])),
});

const ResourceSchema = z.strictObject({
  resourceName: z
    .string({ message: 'is required (a string)' })
    .regex(RESOURCE_NAME, { message: 'must match ^[A-Za-z0-9_-]+$' })
    .max(63, { message: 'must be at most 63 characters (Kubernetes resource name)' })
    .refine((s) => !RESOURCE_NAME.test(s) || QUALIFIED_NAME.test(s), {
      message: 'must start and end with a letter or digit (the kubelet refuses other names)',
    }),
  resourcePrefix: resourcePrefix.nullish(),
  deviceType: z.string().nullish(),
  excludeTopology: flag,
  requireSwitchdev: flag,
  selectors: z.unknown().optional(),
  additionalInfo: z.unknown().optional(),
  // Written back by some upstream tools (docs/config-file); upstream ignores them as well.
  SelectorObj: z.unknown().optional(),
  SelectorObjs: z.unknown().optional(),
});

const RESOURCE_KEYS = Object.keys(ResourceSchema.shape);
const SELECTOR_KEYS = Object.keys(SelectorSchema.shape);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Renames keys to their canonical spelling when they match case-insensitively (Go's rule). */
function foldKeys(v: unknown, known: readonly string[]): unknown {
  if (!isPlainObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) {
    const canon =
      known.find((c) => c === k) ?? known.find((c) => c.toLowerCase() === k.toLowerCase()) ?? k;
    out[canon] = val;
  }
  return out;
}

/** Parses `value` with `schema`, turning zod issues into path-prefixed ones. */
function collect<T>(schema: z.ZodType<T>, value: unknown, at: Path, issues: Issue[]): T | null {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  for (const i of r.error.issues) {
    const path = [...at, ...i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    if (i.code === 'unrecognized_keys') {
      for (const k of i.keys) issues.push({ path: [...path, k], message: 'unknown key' });
    } else {
      issues.push({ path, message: i.message });
    }
  }
  return null;
}

function isEmptyValue(v: unknown): boolean {
  return (
    v === undefined ||
    v === null ||
    v === false ||
    v === '' ||
    (Array.isArray(v) && v.length === 0) ||
    (isPlainObject(v) && Object.keys(v).length === 0)
  );
}

function parseSelector(raw: unknown, at: Path, issues: Issue[]): Selector | null {
  if (!isPlainObject(raw)) {
    issues.push({ path: at, message: 'must be an object of selector lists' });
    return null;
  }
  const folded = foldKeys(raw, SELECTOR_KEYS) as Record<string, unknown>;
  let ok = true;
  for (const [key, why] of Object.entries(UNSUPPORTED_SELECTORS)) {
    if (!isEmptyValue(folded[key])) {
      issues.push({ path: [...at, key], message: `not supported by ovs-offload (${why})` });
      ok = false;
    }
  }
  const s = collect(SelectorSchema, folded, at, issues);
  if (!s || !ok) return null;
  return {
    ...EMPTY_SELECTOR,
    vendors: s.vendors,
    devices: s.devices,
    drivers: s.drivers,
    pfNames: s.pfNames,
    rootDevices: s.rootDevices,
    pciAddresses: s.pciAddresses,
    linkTypes: s.linkTypes,
    isRdma: s.isRdma,
    needVhostNet: s.needVhostNet,
  };
}

function parseDeviceType(raw: string | null | undefined, at: Path, issues: Issue[]): void {
  if (raw === undefined || raw === null || raw.toLowerCase() === 'netdevice') return;
  const known = ['accelerator', 'auxnetdevice'].includes(raw.toLowerCase());
  issues.push({
    path: at,
    message: known
      ? `${JSON.stringify(raw)} is not supported by ovs-offload (only "netDevice": SR-IOV network VFs)`
      : `unknown device type ${JSON.stringify(raw)} (sriov-network-device-plugin knows "netDevice", "accelerator", "auxNetDevice"; ovs-offload serves "netDevice")`,
  });
}

function parseSelectors(raw: unknown, at: Path, issues: Issue[]): Selector[] {
  if (raw === undefined || raw === null) {
    issues.push({ path: at, message: 'is required (an object, or a list of objects)' });
    return [];
  }
  if (!Array.isArray(raw)) {
    const s = parseSelector(raw, at, issues);
    return s ? [s] : [];
  }
  if (raw.length === 0) issues.push({ path: at, message: 'must not be an empty list' });
  return raw
    .map((s, i) => parseSelector(s, [...at, i], issues))
    .filter((s): s is Selector => s !== null);
}

function parseResource(
  raw: unknown,
  at: Path,
  defaultPrefix: string,
  issues: Issue[],
  warnings: string[],
): ResourceConfig | null {
  if (!isPlainObject(raw)) {
    issues.push({ path: at, message: 'must be an object with resourceName and selectors' });
    return null;
  }
  const folded = foldKeys(raw, RESOURCE_KEYS) as Record<string, unknown>;
  const r = collect(ResourceSchema, folded, at, issues);
  // Selectors are checked even when the rest failed, so one run reports every problem.
  const selectors = parseSelectors(folded.selectors, [...at, 'selectors'], issues);
  if (!r) return null;
  parseDeviceType(r.deviceType, [...at, 'deviceType'], issues);
  if (!isEmptyValue(r.additionalInfo)) {
    warnings.push(
      `${formatPath([...at, 'additionalInfo'])}: ignored (ovs-offload does not add extra _INFO fields)`,
    );
  }
  const prefix = r.resourcePrefix ?? defaultPrefix;
  return {
    resourceName: r.resourceName,
    resourcePrefix: prefix,
    fullName: `${prefix}/${r.resourceName}`,
    deviceType: 'netDevice',
    excludeTopology: r.excludeTopology,
    requireSwitchdev: r.requireSwitchdev,
    selectors,
  };
}

export interface ParseOptions {
  /** The global prefix (agent config `devicePlugin.resourcePrefix`). */
  defaultPrefix?: string;
  /** Names the config in errors (a file path). */
  source?: string;
  /** Path of the list in errors (default `resourceList`). */
  at?: Path;
}

/**
 * Parses a resourceList (a list; a single object is accepted with a warning, as some
 * published ConfigMaps have it). Throws InvalidInputError naming every bad path.
 */
export function parseResourceList(raw: unknown, opts: ParseOptions = {}): ParsedResourceList {
  const at = opts.at ?? ['resourceList'];
  const source = opts.source ?? 'device plugin config';
  const issues: Issue[] = [];
  const warnings: string[] = [];
  const defaultPrefix = opts.defaultPrefix ?? DEFAULT_RESOURCE_PREFIX;
  collect(resourcePrefix, defaultPrefix, ['resourcePrefix'], issues);
  let items: unknown[];
  if (Array.isArray(raw)) {
    items = raw;
  } else if (isPlainObject(raw)) {
    warnings.push(
      `${formatPath(at)} is a single object, not a list: read as a list of one; write "${formatPath(at.slice(-1))}": [ { … } ] to fix it`,
    );
    items = [raw];
  } else {
    throw new InvalidInputError(source, `${formatPath(at)}: must be a list of resources`);
  }
  const resources: ResourceConfig[] = [];
  const seen = new Map<string, number>();
  for (const [i, item] of items.entries()) {
    const itemAt = Array.isArray(raw) ? [...at, i] : at;
    const res = parseResource(item, itemAt, defaultPrefix, issues, warnings);
    if (!res) continue;
    const dup = seen.get(res.fullName);
    if (dup !== undefined) {
      issues.push({
        path: [...itemAt, 'resourceName'],
        message: `${res.fullName} is already defined by ${formatPath([...at, dup])}`,
      });
    }
    seen.set(res.fullName, i);
    resources.push(res);
  }
  if (issues.length > 0) {
    throw new InvalidInputError(
      source,
      issues.map((i) => `${formatPath(i.path) || '(top level)'}: ${i.message}`).join('; '),
    );
  }
  return { resources, warnings };
}

/** Parses a whole `config.json` document (`{"resourceList": …}`), as text or as a value. */
export function parseSriovDpConfig(doc: unknown, opts: ParseOptions = {}): ParsedResourceList {
  const source = opts.source ?? 'config.json';
  let value = doc;
  if (typeof doc === 'string') {
    try {
      value = JSON.parse(doc) as unknown;
    } catch (err) {
      throw new InvalidInputError(
        source,
        `not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }
  const folded = foldKeys(value, ['resourceList']);
  if (!isPlainObject(folded)) {
    throw new InvalidInputError(source, '(top level): must be an object with "resourceList"');
  }
  const unknown = Object.keys(folded).filter((k) => k !== 'resourceList');
  if (unknown.length > 0) {
    throw new InvalidInputError(source, unknown.map((k) => `${k}: unknown key`).join('; '));
  }
  if (folded.resourceList === undefined || folded.resourceList === null) {
    throw new InvalidInputError(source, 'resourceList: is required');
  }
  return parseResourceList(folded.resourceList, { ...opts, source });
}
