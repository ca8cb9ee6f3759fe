import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { callAgent } from '../../../src/cni/client.js';
import { runCni, type CniDeps } from '../../../src/cni/run.js';
import type { AgentRequest, CniOp } from '../../../src/cni/types.js';
import {
  DOCUMENTED_CODES,
  env,
  expected,
  NOWHERE,
  stdin,
  SUPPORTED,
  utf8,
  type Env,
} from './model.js';

/**
 * runCni is total: whatever CNI_* and stdin hold, it prints either the version JSON, an error
 * JSON with a code of the documented set (docs/cni.md) and exits 1, or forwards the request.
 * Every valid request here goes to a socket where no agent listens, so it comes back as 11
 * (50 for STATUS). What each input must get comes from the model in ./model.ts.
 */

// ---- the property ------------------------------------------------------------------------

/** Records what would reach the agent, and asks the real client (no agent listens there). */
function recordingDeps(): {
  deps: CniDeps;
  calls: { socket: string; op: CniOp; body: AgentRequest }[];
} {
  const calls: { socket: string; op: CniOp; body: AgentRequest }[] = [];
  return {
    calls,
    deps: {
      callAgent(socket, op, body) {
        calls.push({ socket, op, body: JSON.parse(JSON.stringify(body)) as AgentRequest });
        return callAgent(socket, op, body);
      },
    },
  };
}

async function check(e: Env, input: Uint8Array): Promise<void> {
  const want = expected(e, input);
  const { deps, calls } = recordingDeps();
  const got = await runCni(e, input, deps);
  expect(got.stdout.endsWith('\n')).toBe(true);
  expect(got.stdout.indexOf('\n')).toBe(got.stdout.length - 1);
  const out = JSON.parse(got.stdout) as Record<string, unknown>;
  if (want.kind === 'version') {
    expect(got.code).toBe(0);
    expect(out).toEqual({ cniVersion: want.version, supportedVersions: SUPPORTED });
    expect(calls).toEqual([]);
    return;
  }
  expect(got.code).toBe(1);
  expect(Object.keys(out).every((k) => ['cniVersion', 'code', 'msg', 'details'].includes(k))).toBe(
    true,
  );
  expect(typeof out.msg === 'string' && out.msg !== '').toBe(true);
  if ('details' in out) expect(typeof out.details).toBe('string');
  expect(DOCUMENTED_CODES).toContain(out.code);
  expect(out.cniVersion).toBe(want.version);
  if (want.kind === 'error') {
    expect({ code: out.code, msg: out.msg }).toMatchObject({ code: want.code });
    expect(calls).toEqual([]);
    return;
  }
  expect(calls).toEqual([
    {
      socket: want.socket,
      op: want.op,
      body: JSON.parse(JSON.stringify(want.body)) as AgentRequest,
    },
  ]);
  expect(out.code).toBe(want.op === 'status' ? 50 : 11);
  expect(out.msg).toContain(`unreachable at ${want.socket}`);
}

describe('runCni is total', () => {
  it('answers any CNI_* and any stdin with the version, a documented error, or a forward', async () => {
    await fc.assert(
      fc.asyncProperty(env, stdin, (e, input) => check(e, input)),
      { numRuns: Number(process.env.CNI_PROPERTY_RUNS ?? 1500) },
    );
  }, 120_000);

  it('reaches every outcome often enough to mean something', () => {
    const counts: Record<string, number> = {};
    for (const [e, input] of fc.sample(fc.tuple(env, stdin), { numRuns: 2000, seed: 42 })) {
      const w = expected(e, input);
      const k = w.kind === 'error' ? `error ${w.code}` : w.kind === 'forward' ? w.op : w.kind;
      counts[k] = (counts[k] ?? 0) + 1;
    }
    for (const k of ['add', 'del', 'check', 'gc', 'status'])
      expect(counts[k] ?? 0, k).toBeGreaterThanOrEqual(15);
    for (const k of ['version', 'error 1', 'error 4', 'error 6', 'error 7'])
      expect(counts[k] ?? 0, k).toBeGreaterThanOrEqual(50);
  });

  const base: Env = {
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: 'c1',
    CNI_NETNS: '/var/run/netns/x',
    CNI_IFNAME: 'net1',
    CNI_PATH: '/opt/cni/bin',
    CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0',
  };
  const conf = (patch: Record<string, unknown> = {}) =>
    JSON.stringify({
      cniVersion: '1.1.0',
      name: 'n',
      type: 'ovs-offload-cni',
      server_socket: `${NOWHERE}/a.sock`,
      ...patch,
    });

  /** Cases the property found, and the edges of each rule, kept as examples. */
  it.each<[string, Env, string, number | 'forward' | 'version']>([
    ['a 1024-byte container ID', { CNI_CONTAINERID: 'a'.repeat(1024) }, conf(), 'forward'],
    ['a 4096-byte container ID', { CNI_CONTAINERID: 'f'.repeat(4096) }, conf(), 'forward'],
    ['a container ID with "/"', { CNI_CONTAINERID: '../../etc' }, conf(), 4],
    ['a container ID starting with "-"', { CNI_CONTAINERID: '-c1' }, conf(), 4],
    ['an interface name of 15 bytes', { CNI_IFNAME: 'é'.repeat(7) + 'x' }, conf(), 'forward'],
    ['an interface name of 16 bytes in 8 characters', { CNI_IFNAME: 'é'.repeat(8) }, conf(), 4],
    ['an interface name with the byte 0xa0', { CNI_IFNAME: 'netà' }, conf(), 4],
    ['".." as interface name', { CNI_IFNAME: '..' }, conf(), 4],
    [
      'an unknown CNI_ARGS key',
      { CNI_ARGS: 'K8S_POD_NAMESPACE=d;K8S_POD_NAME=p;FOO=1' },
      conf(),
      4,
    ],
    [
      'an unknown CNI_ARGS key with IgnoreUnknown=true',
      { CNI_ARGS: 'IgnoreUnknown=true;K8S_POD_NAMESPACE=d;K8S_POD_NAME=p;FOO=1' },
      conf(),
      'forward',
    ],
    [
      'IgnoreUnknown=yes',
      { CNI_ARGS: 'IgnoreUnknown=yes;K8S_POD_NAMESPACE=d;K8S_POD_NAME=p' },
      conf(),
      4,
    ],
    [
      'a CNI_ARGS key __proto__',
      { CNI_ARGS: 'IgnoreUnknown=1;__proto__=x;K8S_POD_NAMESPACE=d;K8S_POD_NAME=p' },
      conf(),
      'forward',
    ],
    ['bad CNI_* and a config that is not JSON', { CNI_IFNAME: '' }, '{', 4],
    [
      'a config nested 300 deep',
      {},
      conf({ x: JSON.parse('['.repeat(299) + ']'.repeat(299)) as unknown }),
      6,
    ],
    [
      'a config nested 20000 deep',
      {},
      conf().slice(0, -1) + ',"x":' + '['.repeat(20_000) + ']'.repeat(20_000) + '}',
      6,
    ],
    ['a config with a BOM', {}, '\ufeff' + conf(), 6],
    ['cniVersion null', {}, conf({ cniVersion: null }), 7],
    ['cniVersion 1.0', {}, conf({ cniVersion: 1.0 }), 7],
    ['a network name with a space', {}, conf({ name: 'my net' }), 7],
    ['a server_socket of 108 bytes', {}, conf({ server_socket: '/' + 's'.repeat(107) }), 7],
    ['a server_socket with NUL', {}, conf({ server_socket: `${NOWHERE}/a\u0000b` }), 7],
    ['prevResult null', { CNI_COMMAND: 'CHECK' }, conf({ prevResult: null }), 7],
    [
      'GC with a malformed attachment list',
      { CNI_COMMAND: 'GC' },
      conf({ 'cni.dev/valid-attachments': 'none' }),
      7,
    ],
    [
      'GC with an attachment without ifname',
      { CNI_COMMAND: 'GC' },
      conf({ 'cni.dev/valid-attachments': [{ containerID: 'c1' }] }),
      7,
    ],
    [
      'VERSION with a stdin that is not JSON',
      { CNI_COMMAND: 'VERSION' },
      '\u0000garbage',
      'version',
    ],
    ['an unsupported version, reported in the newest', {}, conf({ cniVersion: '0.2.0' }), 1],
  ])('ADD (unless said) with %s', async (_what, patch, input, outcome) => {
    const e = { ...base, ...patch };
    const bytes = utf8(input);
    const want = expected(e, bytes);
    expect(want.kind === 'error' ? want.code : want.kind).toBe(outcome);
    await check(e, bytes);
  });
});
