import fc from 'fast-check';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { AgentRequest, CniOp } from '../../../src/cni/types.js';

/**
 * A model of what the CNI front end answers (docs/cni.md "Errors", rule by rule, written
 * independently of src/cni) and generators of CNI_* and stdin that reach every rule: valid
 * values, the edge cases of each rule, and anything at all.
 */

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'] as const;
export const SUPPORTED = ['0.3.1', '0.4.0', '1.0.0', '1.1.0'];
export const LATEST = '1.1.0';
export const DOCUMENTED_CODES = [1, 2, 4, 6, 7, 11, 50];
export const KNOWN_ARGS = [
  'IgnoreUnknown',
  'K8S_POD_NAME',
  'K8S_POD_NAMESPACE',
  'K8S_POD_UID',
  'K8S_POD_INFRA_CONTAINER_ID',
  'IP',
];
export const MAX_NESTING = 256;
/** No agent listens under a directory that does not exist. */
export const NOWHERE = path.join(tmpdir(), `oo-cni-no-agent-${process.pid}`, 'missing');

// ---- the model ---------------------------------------------------------------------------

export type Expected =
  | { kind: 'error'; code: number; version: string }
  | { kind: 'version'; version: string }
  | { kind: 'forward'; op: CniOp; body: AgentRequest; socket: string; version: string };

export const utf8 = (s: string) => new TextEncoder().encode(s);

const CNI_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** GC's attachment lists: null (none left) or a list of {containerID, ifname} strings. */
function attachmentList(v: unknown): boolean {
  return (
    v === null ||
    (Array.isArray(v) && v.every((a) => isObj(a) && isStr(a.containerID) && isStr(a.ifname)))
  );
}

function ifNameOk(n: string): boolean {
  const bytes = utf8(n);
  if (bytes.length < 1 || bytes.length > 15 || n === '.' || n === '..') return false;
  if (/[/:\s]/u.test(n)) return false;
  // The kernel's isspace() also counts the byte 0xA0 (it is part of 'à', for one).
  return !bytes.includes(0xa0);
}

/** Levels of arrays and objects (a scalar is 0, `{}` is 1), without recursion. */
function depth(v: unknown): number {
  let max = 0;
  const todo: [unknown, number][] = [[v, 0]];
  while (todo.length > 0) {
    const [x, d] = todo.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    max = Math.max(max, d + 1);
    for (const k of Array.isArray(x) ? x : Object.values(x)) todo.push([k, d + 1]);
  }
  return max;
}

function decodeModel(stdin: Uint8Array): Record<string, unknown> | null {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { ignoreBOM: true }).decode(stdin));
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  if (depth(v) > MAX_NESTING) return null;
  return v as Record<string, unknown>;
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const intIn = (v: unknown, lo: number, hi: number) =>
  typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
const PCI = /^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[01][0-9a-fA-F]\.[0-7]$/;
const MAC = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/;
const PROVIDER = /^(ovn|[a-z0-9]([-a-z0-9]*[a-z0-9])?\.[a-z0-9]([-a-z0-9]*[a-z0-9])?\.ovn)$/;
const opt = (c: Record<string, unknown>, k: string, ok: (v: unknown) => boolean) =>
  !Object.hasOwn(c, k) || ok(c[k]);

/**
 * runtimeConfig.bandwidth: the CNI bandwidth plugin's non-negative integers (bits/s, bits);
 * a burst needs its rate and is below 4 GiB (the plugin's validateRateAndBurst).
 */
function bandwidthOk(v: unknown): boolean {
  if (!isObj(v)) return false;
  const whole = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (!['ingressRate', 'ingressBurst', 'egressRate', 'egressBurst'].every((k) => opt(v, k, whole)))
    return false;
  return ['ingress', 'egress'].every((d) => {
    const rate = (v[`${d}Rate`] as number | undefined) ?? 0;
    const burst = (v[`${d}Burst`] as number | undefined) ?? 0;
    return !(burst !== 0 && rate === 0) && burst / 8 < 2 ** 32;
  });
}

/** docs/cni.md "Network config", rule by rule. */
function netConfOk(c: Record<string, unknown>, command: string): boolean {
  const sock = c.server_socket;
  const rc = c.runtimeConfig;
  const ok =
    isStr(c.name) &&
    CNI_NAME.test(c.name) &&
    c.type === 'ovs-offload-cni' &&
    isStr(sock) &&
    sock.startsWith('/') &&
    !sock.includes('\0') &&
    utf8(sock).length <= 107 &&
    opt(c, 'provider', (v) => isStr(v) && PROVIDER.test(v)) &&
    opt(c, 'bridge', (v) => isStr(v) && ifNameOk(v)) &&
    opt(c, 'deviceID', (v) => isStr(v) && PCI.test(v)) &&
    opt(c, 'runtimeConfig', isObj) &&
    (!isObj(rc) ||
      (opt(rc, 'deviceID', (v) => isStr(v) && PCI.test(v)) &&
        opt(rc, 'mac', (v) => isStr(v) && MAC.test(v)) &&
        opt(rc, 'ips', (v) => Array.isArray(v) && v.every(isStr)) &&
        opt(rc, 'bandwidth', bandwidthOk))) &&
    opt(c, 'mac', (v) => isStr(v) && MAC.test(v)) &&
    opt(c, 'mtu', (v) => intIn(v, 68, 65535)) &&
    opt(c, 'vlan', (v) => intIn(v, 0, 4094)) &&
    opt(c, 'ipam', (v) => isObj(v) && isStr(v.type) && v.type !== '') &&
    opt(c, 'mode', (v) => v === 'auto' || v === 'offload' || v === 'legacy') &&
    opt(c, 'vlanQoS', (v) => intIn(v, 0, 7)) &&
    opt(c, 'vlanProto', (v) => v === '802.1q' || v === '802.1Q' || v === '802.1ad') &&
    opt(c, 'spoofchk', (v) => v === 'on' || v === 'off') &&
    opt(c, 'trust', (v) => v === 'on' || v === 'off') &&
    opt(c, 'link_state', (v) => v === 'auto' || v === 'enable' || v === 'disable') &&
    opt(c, 'min_tx_rate', (v) => intIn(v, 0, 1_000_000)) &&
    opt(c, 'max_tx_rate', (v) => intIn(v, 0, 1_000_000)) &&
    opt(c, 'prevResult', isObj) &&
    opt(c, 'cni.dev/attachments', attachmentList) &&
    opt(c, 'cni.dev/valid-attachments', attachmentList);
  if (!ok) return false;
  // Cross-field rules.
  if ((Object.hasOwn(c, 'vlanQoS') || Object.hasOwn(c, 'vlanProto')) && !c.vlan) return false;
  const min = c.min_tx_rate as number | undefined;
  const max = c.max_tx_rate as number | undefined;
  if (min !== undefined && max !== undefined && max !== 0 && min > max) return false;
  if (command === 'CHECK' && !Object.hasOwn(c, 'prevResult')) return false;
  return true;
}

/** CNI_ARGS as libcni's LoadArgs reads them (but keeping '=' in values, skipping empty pairs). */
function argsModel(raw: string | undefined): Record<string, string> | null {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const pair of (raw ?? '').split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) return null;
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  let ignoreUnknown = false;
  if (Object.hasOwn(out, 'IgnoreUnknown')) {
    const v = out.IgnoreUnknown!.toLowerCase();
    if (v === '1' || v === 'true') ignoreUnknown = true;
    else if (v !== '0' && v !== 'false') return null;
  }
  if (!ignoreUnknown && Object.keys(out).some((k) => !KNOWN_ARGS.includes(k))) return null;
  return out;
}

export type Env = Partial<Record<string, string>>;

/**
 * A Kubernetes pod identity in CNI_ARGS: none at all, or both name and namespace with no key
 * empty; anything else is partial (code 4 for ADD).
 */
function identityModel(a: Record<string, string>): 'none' | 'pod' | 'partial' {
  const keys = ['K8S_POD_NAME', 'K8S_POD_NAMESPACE', 'K8S_POD_UID', 'K8S_POD_INFRA_CONTAINER_ID'];
  const present = keys.filter((k) => Object.hasOwn(a, k));
  if (present.length === 0) return 'none';
  if (present.some((k) => a[k] === '')) return 'partial';
  return present.includes('K8S_POD_NAME') && present.includes('K8S_POD_NAMESPACE')
    ? 'pod'
    : 'partial';
}

export function expected(env: Env, stdin: Uint8Array): Expected {
  const conf = decodeModel(stdin);
  const version =
    conf && SUPPORTED.includes(conf.cniVersion as string) ? (conf.cniVersion as string) : LATEST;
  const fail = (code: number): Expected => ({ kind: 'error', code, version });
  const cmd = env.CNI_COMMAND ?? '';
  if (!(COMMANDS as readonly string[]).includes(cmd)) return fail(4);
  if (cmd === 'VERSION') return { kind: 'version', version };
  const has = (k: string) => (env[k] ?? '') !== '';
  let args: Record<string, string> = {};
  if (cmd === 'GC' && !has('CNI_PATH')) return fail(4);
  if (cmd === 'ADD' || cmd === 'DEL' || cmd === 'CHECK') {
    const needed = [
      'CNI_CONTAINERID',
      'CNI_IFNAME',
      'CNI_PATH',
      ...(cmd === 'DEL' ? [] : ['CNI_NETNS']),
    ];
    if (!needed.every(has)) return fail(4);
    if (!CNI_NAME.test(env.CNI_CONTAINERID!)) return fail(4);
    if (!ifNameOk(env.CNI_IFNAME!)) return fail(4);
    if (has('CNI_NETNS') && !env.CNI_NETNS!.startsWith('/')) return fail(4);
    const a = argsModel(env.CNI_ARGS);
    if (a === null) return fail(4);
    if (cmd === 'ADD' && identityModel(a) === 'partial') return fail(4);
    args = a;
  }
  if (conf === null) return fail(6);
  if (!isStr(conf.cniVersion)) return fail(7);
  if (!SUPPORTED.includes(conf.cniVersion)) return fail(1);
  const v = conf.cniVersion;
  if (cmd === 'CHECK' && v === '0.3.1') return fail(1);
  if ((cmd === 'STATUS' || cmd === 'GC') && v !== '1.1.0') return fail(1);
  if (!netConfOk(conf, cmd)) return fail(7);
  if (cmd === 'ADD' && conf.provider !== undefined && identityModel(args) === 'none')
    return fail(4);
  const per = cmd === 'GC' || cmd === 'STATUS';
  return {
    kind: 'forward',
    op: cmd.toLowerCase() as CniOp,
    socket: conf.server_socket as string,
    version,
    body: {
      containerID: per ? '' : env.CNI_CONTAINERID!,
      netns: per ? '' : (env.CNI_NETNS ?? ''),
      ifName: per ? '' : env.CNI_IFNAME!,
      args,
      path: env.CNI_PATH ?? '',
      config: conf,
    },
  };
}

// ---- the generators ----------------------------------------------------------------------

/** Any text, including astral characters, lone surrogates and control characters. */
const anyText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
);
const chars = (s: string) => fc.constantFrom(...s.split(''));
const ALNUM = 'abcxyzABCXYZ0189';

/** One input (a CNI_* variable, a NetConf key): values that pass its rule and values that do not. */
interface Spec<T> {
  good: fc.Arbitrary<T>;
  bad: fc.Arbitrary<T>;
  optional?: boolean;
}

/**
 * Records of these inputs in three mixes: all good (optional ones sometimes absent), one input
 * bad, absent or anything at all (each rule on its own), and every input drawn from anything.
 */
function mixes<T>(specs: Record<string, Spec<T>>, anything: fc.Arbitrary<T>) {
  const keys = Object.keys(specs);
  const goodOf = (s: Spec<T>) =>
    s.optional ? fc.option(s.good, { nil: undefined, freq: 2 }) : s.good;
  const clean = fc.record(Object.fromEntries(keys.map((k) => [k, goodOf(specs[k]!)])));
  const oneFlaw = fc
    .tuple(clean, fc.constantFrom(...keys))
    .chain(([c, k]) =>
      fc.oneof(specs[k]!.bad, anything, fc.constant(undefined)).map((v) => ({ ...c, [k]: v })),
    );
  const dirty = fc.record(
    Object.fromEntries(
      keys.map((k) => [
        k,
        fc.oneof(
          { weight: 3, arbitrary: goodOf(specs[k]!) },
          { weight: 1, arbitrary: specs[k]!.bad },
          { weight: 1, arbitrary: anything },
          { weight: 1, arbitrary: fc.constant(undefined) },
        ),
      ]),
    ),
  );
  return fc
    .oneof(
      { weight: 4, arbitrary: clean },
      { weight: 3, arbitrary: oneFlaw },
      { weight: 2, arbitrary: dirty },
    )
    .map((r) => {
      const out: Record<string, T> = {};
      for (const [k, v] of Object.entries(r)) if (v !== undefined) out[k] = v;
      return out;
    });
}

export const validContainerId = fc
  .tuple(chars(ALNUM), fc.string({ unit: chars(ALNUM + '_.-'), maxLength: 64 }))
  .map(([a, b]) => a + b);

export const validIfName = fc
  .string({ unit: chars(ALNUM + '-_.@#%'), minLength: 1, maxLength: 15 })
  .filter((s) => s !== '.' && s !== '..');

const K8S_ARGS = [
  'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0',
  'K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_UID=u-1',
  'IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=c0ffee;FOO=bar',
  'K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=a=b;IP=10.0.0.5;;',
];
const noSemi = anyText.map((s) => s.replaceAll(';', ''));
const argPair = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.constantFrom(...KNOWN_ARGS.slice(1)), noSemi)
      .map(([k, v]) => `${k}=${v}`),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'IgnoreUnknown=1',
      'IgnoreUnknown=true',
      'IgnoreUnknown=TRUE',
      'IgnoreUnknown=0',
      'IgnoreUnknown=false',
      'IgnoreUnknown=yes',
      'IgnoreUnknown=',
      '__proto__=x',
    ),
  },
  { weight: 1, arbitrary: fc.tuple(noSemi, noSemi).map(([k, v]) => `${k}=${v}`) },
  { weight: 1, arbitrary: noSemi },
  { weight: 1, arbitrary: fc.constant('') },
);

const envSpecs: Record<string, Spec<string>> = {
  CNI_COMMAND: {
    good: fc.constantFrom(...COMMANDS),
    bad: fc.constantFrom('add', 'Del', '', ' ADD', 'ADD\n', 'FROB'),
  },
  CNI_CONTAINERID: {
    good: fc.oneof(
      { weight: 4, arbitrary: validContainerId },
      // containerd uses 64 hex digits; the spec sets no limit: 1024 bytes and more must pass.
      { weight: 1, arbitrary: fc.integer({ min: 200, max: 4096 }).map((n) => 'c'.repeat(n)) },
    ),
    bad: fc.constantFrom('', '_x', '-x', '.x', 'a b', 'a/b', 'a:b', 'é', 'x\n'),
  },
  CNI_NETNS: {
    good: fc.constantFrom('/var/run/netns/cni-1', '/proc/42/ns/net'),
    bad: fc.constantFrom('', 'cni-1', './x'),
  },
  CNI_IFNAME: {
    good: fc.oneof(
      { weight: 4, arbitrary: validIfName },
      { weight: 1, arbitrary: fc.constantFrom('a'.repeat(15), 'é'.repeat(7), 'ø', '...', '.a') },
    ),
    bad: fc.constantFrom(
      '',
      '.',
      '..',
      'a'.repeat(16),
      'é'.repeat(8), // 16 bytes
      'à', // c3 a0: the kernel's isspace(0xa0)
      'net 1',
      'net\t1',
      'net\n',
      'a:b',
      'a/b',
      'eth\u00a0',
      'eth\u2003',
      '💥💥💥💥',
    ),
  },
  CNI_ARGS: {
    good: fc.constantFrom(...K8S_ARGS),
    bad: fc.array(argPair, { maxLength: 6 }).map((a) => a.join(';')),
  },
  CNI_PATH: {
    good: fc.constantFrom('/opt/cni/bin', '/opt/cni/bin:/usr/lib/cni'),
    bad: fc.constant(''),
  },
};

export const env: fc.Arbitrary<Env> = mixes(envSpecs, anyText);

const int = (lo: number, hi: number) => fc.integer({ min: lo, max: hi });
const pci = fc.constantFrom('0000:03:00.2', '0000:D8:00.7', '0000:81:1f.0');
const mac = fc.constantFrom('0a:58:0a:10:00:05', 'AA:BB:CC:DD:EE:FF');
const anyJson = fc.jsonValue({ maxDepth: 2 });

const confSpecs: Record<string, Spec<unknown>> = {
  cniVersion: {
    // 1.1.0 allows every command.
    good: fc.oneof(
      { weight: 3, arbitrary: fc.constant(LATEST) },
      { weight: 2, arbitrary: fc.constantFrom(...SUPPORTED) },
    ),
    bad: fc.constantFrom('0.1.0', '0.2.0', '0.3.0', '1.2.0', '2.0', 'v1.0.0', '', null, 1),
  },
  name: {
    good: fc.constantFrom('sriov-net1', 'net1', 'a', 'kube-ovn.v2_x', '0'),
    bad: fc.constantFrom('', 'my net', '-net', '.net', 'net/1', 'ñet'),
  },
  type: { good: fc.constant('ovs-offload-cni'), bad: fc.constantFrom('sriov', 'OVS-OFFLOAD-CNI') },
  server_socket: {
    good: fc
      .stringMatching(/^[a-z0-9][a-z0-9_.-]{0,20}$/)
      .map((s) => `${NOWHERE}/${s}.sock`)
      .filter((s) => utf8(s).length <= 107),
    bad: fc.oneof(
      fc.constantFrom('cni.sock', '', './cni.sock', `${NOWHERE}/a\u0000b.sock`),
      fc.integer({ min: 108, max: 300 }).map((n) => `/${'s'.repeat(n - 1)}`),
    ),
  },
  provider: {
    good: fc.constantFrom('ovn', 'sriov-net1.default.ovn', 'a.b.ovn'),
    bad: fc.constantFrom('kube-ovn', 'OVN', 'a.b.c.ovn', '.x.ovn'),
    optional: true,
  },
  bridge: {
    good: fc.constantFrom('br-int', 'br0', 'é'.repeat(7)),
    bad: fc.constantFrom('', 'br int', 'b'.repeat(16), 'brà'),
    optional: true,
  },
  deviceID: { good: pci, bad: fc.constantFrom('eth0', '0000:03:00.8', '03:00.2'), optional: true },
  runtimeConfig: {
    good: fc.record(
      {
        deviceID: pci,
        mac,
        ips: fc.array(fc.constantFrom('10.0.0.5/24', 'fd00::5/64')),
        // Valid values, drawn from the same stream the earlier free-form `bandwidth` used.
        bandwidth: anyJson.map((j) => {
          const n = typeof j === 'number' && Number.isSafeInteger(j) ? Math.abs(j) : 0;
          return n === 0
            ? {}
            : { ingressRate: n, ingressBurst: Math.min(n, 2 ** 34), egressRate: n };
        }),
      },
      { requiredKeys: [] },
    ),
    bad: fc.oneof(
      fc.constantFrom(null, [], 'x'),
      fc.constantFrom(
        { deviceID: 'x' },
        { mac: '01:02:03' },
        { ips: [1] },
        { ips: '10.0.0.5' },
        { bandwidth: [] },
        { bandwidth: { ingressRate: -1 } },
        { bandwidth: { egressRate: 1.5 } },
        { bandwidth: { egressBurst: 1000 } },
        { bandwidth: { ingressRate: 1, ingressBurst: 2 ** 35 } },
      ),
    ),
    optional: true,
  },
  mac: { good: mac, bad: fc.constantFrom('01:02:03', 'zz:zz:zz:zz:zz:zz'), optional: true },
  mtu: {
    good: int(68, 65535),
    bad: fc.constantFrom(67, 65536, 1500.5, '1500', -1),
    optional: true,
  },
  vlan: { good: int(0, 4094), bad: fc.constantFrom(4095, -1, 1.5, '100'), optional: true },
  ipam: {
    good: fc.record({ type: fc.constantFrom('host-local', 'static') }),
    bad: fc.constantFrom({}, { type: '' }, { type: 1 }, null, 'host-local'),
    optional: true,
  },
  mode: {
    good: fc.constantFrom('auto', 'offload', 'legacy'),
    bad: fc.constantFrom('fast', 'AUTO'),
    optional: true,
  },
  vlanQoS: { good: int(0, 7), bad: fc.constantFrom(8, -1), optional: true },
  vlanProto: {
    good: fc.constantFrom('802.1q', '802.1Q', '802.1ad'),
    bad: fc.constant('802.1x'),
    optional: true,
  },
  spoofchk: {
    good: fc.constantFrom('on', 'off'),
    bad: fc.constantFrom(true, 'yes'),
    optional: true,
  },
  trust: { good: fc.constantFrom('on', 'off'), bad: fc.constantFrom(false, 'ON'), optional: true },
  link_state: {
    good: fc.constantFrom('auto', 'enable', 'disable'),
    bad: fc.constant('up'),
    optional: true,
  },
  min_tx_rate: {
    good: int(0, 1_000_000),
    bad: fc.constantFrom(-1, 1_000_001, 0.5),
    optional: true,
  },
  max_tx_rate: {
    good: int(0, 1_000_000),
    bad: fc.constantFrom(-1, 1_000_001, 0.5),
    optional: true,
  },
  prevResult: {
    good: fc.constant({ cniVersion: '1.0.0', interfaces: [] }),
    bad: fc.constantFrom(null, [], 'x'),
    optional: true,
  },
  'cni.dev/attachments': {
    good: fc.option(
      fc.array(fc.record({ containerID: validContainerId, ifname: validIfName }), { maxLength: 3 }),
    ),
    bad: fc.constantFrom('all', {}, [null], [{ containerID: 'c1' }]),
    optional: true,
  },
  'cni.dev/valid-attachments': {
    good: fc.option(
      fc.array(fc.record({ containerID: validContainerId, ifname: validIfName }), { maxLength: 3 }),
    ),
    bad: fc.constantFrom(
      'all',
      {},
      [null],
      [{ containerID: 'c1' }],
      [{ containerID: 1, ifname: 'x' }],
    ),
    optional: true,
  },
};

/** NetConf-like objects, sometimes with keys nobody knows (chained plugins add their own). */
export const netConfLike: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    mixes(confSpecs, anyJson),
    fc.option(fc.dictionary(fc.string(), anyJson, { maxKeys: 3 }), { freq: 4 }),
  )
  .map(([c, extra]) => (extra ? { ...c, ...extra } : c));

export const nested = (d: number) =>
  `{"cniVersion":"1.0.0","name":"n","type":"ovs-offload-cni","server_socket":"${NOWHERE}/a.sock","x":${'['.repeat(d - 1)}${']'.repeat(d - 1)}}`;

export const stdin: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 14, arbitrary: netConfLike.map((c) => utf8(JSON.stringify(c))) },
  { weight: 1, arbitrary: fc.json().map(utf8) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: anyText.map(utf8) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: MAX_NESTING - 2, max: 20_000 }).map((d) => utf8(nested(d))),
  },
  {
    weight: 1,
    arbitrary: netConfLike.map((c) => utf8('\ufeff' + JSON.stringify(c, null, 2))),
  },
);
