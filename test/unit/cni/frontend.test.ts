import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CniServer, type CniHandler } from '../../../src/agent/cni-server.js';
import { CniCode, CniError } from '../../../src/cni/errors.js';
import type { AgentRequest } from '../../../src/cni/types.js';
import { silentLogger } from '../../../src/sys/index.js';
import { build } from 'esbuild';
import fc from 'fast-check';
import { env as anyEnv, expected, NOWHERE, stdin as anyStdin, type Env } from './model.js';

/**
 * The front end as a container runtime runs it (env + stdin → stdout), against a real
 * CniServer with a scripted handler on a temp socket. Both front ends answer every case the
 * same: the Node one (src/cni/main.ts) and the compiled one (src/cni/native), which carries
 * ADD/DEL/CHECK to the agent's /api/v1/cni and hands the rest to the Node one beside it.
 */
let dir = '';
let bundle = '';
let native = '';
/** The front end under test, as argv. */
let front: string[] = [];
let server: CniServer;
const seen: { op: string; req: AgentRequest }[] = [];

const handler: CniHandler = {
  async add(req) {
    seen.push({ op: 'add', req });
    if (req.containerID === 'exhausted')
      throw new CniError(CniCode.TryAgainLater, 'no IP addresses available');
    return {
      cniVersion: '1.1.0',
      interfaces: [{ name: req.ifName, sandbox: req.netns, pciID: '0000:03:00.2' }],
      ips: [{ address: '10.0.0.2/24', interface: 0 }],
    };
  },
  async del(req) {
    seen.push({ op: 'del', req });
  },
  async check(req) {
    seen.push({ op: 'check', req });
  },
  async gc(req) {
    seen.push({ op: 'gc', req });
  },
  async status() {
    throw new CniError(CniCode.NotAvailable, 'OVSDB not connected');
  },
  async state() {
    return {};
  },
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cni-fe-'));
  bundle = path.join(dir, 'cni.cjs');
  await build({
    entryPoints: ['src/cni/main.ts'],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: bundle,
    logLevel: 'silent',
  });
  // As scripts/build.mjs builds it, and with the Node front end beside it as it is installed.
  native = path.join(dir, 'ovs-offload-cni');
  execFileSync(process.execPath, ['scripts/build-native.mjs', native]);
  const fallback = path.join(dir, 'ovs-offload-cni-node');
  await writeFile(fallback, `#!/bin/sh\nexec "${process.execPath}" "${bundle}" "$@"\n`);
  await chmod(fallback, 0o755);
  server = new CniServer(path.join(dir, 'cni.sock'), handler, silentLogger());
  await server.start();
});

afterAll(async () => {
  await server.stop(1000);
});

function cni(
  env: Record<string, string>,
  stdin: string,
): Promise<{ code: number; out: unknown; raw: string }> {
  return new Promise((resolve) => {
    const child = execFile(front[0]!, front.slice(1), { env: { ...env } }, (err, stdout) => {
      resolve({
        code: err ? ((err as { code?: number }).code ?? 1) : 0,
        out: stdout.trim() ? JSON.parse(stdout) : null,
        raw: stdout,
      });
    });
    child.stdin?.end(stdin);
  });
}

/** Runs the front end with exactly `env` and the bytes `stdin`, stdout and stderr apart. */
function cniRaw(
  env: Record<string, string>,
  stdin: Uint8Array,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(front[0]!, front.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.stdin.on('error', () => {});
    child.stdin.end(stdin);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * Runs the front end with one of its output pipes already closed by the reader, the way a
 * runtime that gave up (or `| head -c0`) leaves it: stdin is only ended once the pipe is shut,
 * so every write of the child meets a closed pipe.
 */
function cniClosed(
  closed: 'stdout' | 'stderr',
  env: Record<string, string>,
  stdin: string,
): Promise<{ code: number | null; signal: string | null; open: string }> {
  return new Promise((resolve) => {
    const child = spawn(front[0]!, front.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const shut = closed === 'stdout' ? child.stdout : child.stderr;
    const kept = closed === 'stdout' ? child.stderr : child.stdout;
    let open = '';
    kept.on('data', (c: Buffer) => (open += c.toString('utf8')));
    shut.on('close', () => child.stdin.end(stdin));
    shut.destroy();
    child.on('close', (code, signal) => resolve({ code, signal, open }));
  });
}

const conf = (patch: Record<string, unknown> = {}) =>
  JSON.stringify({
    cniVersion: '1.0.0',
    name: 'net1',
    type: 'ovs-offload-cni',
    server_socket: path.join(dir, 'cni.sock'),
    ...patch,
  });
const env = (cmd: string, patch: Record<string, string> = {}) => ({
  CNI_COMMAND: cmd,
  CNI_CONTAINERID: 'c1',
  CNI_NETNS: '/var/run/netns/pod1',
  CNI_IFNAME: 'net1',
  CNI_PATH: '/usr/lib/cni',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0',
  ...patch,
});

describe.each(['node', 'native'] as const)('ovs-offload-cni front end (%s)', (kind) => {
  beforeAll(() => {
    front = kind === 'node' ? [process.execPath, bundle] : [native];
  });

  it('forwards ADD as §3.6 says and prints the result in the config version', async () => {
    const r = await cni(env('ADD'), conf({ deviceID: '0000:03:00.2' }));
    expect(r.code).toBe(0);
    expect(r.out).toEqual({
      cniVersion: '1.1.0',
      interfaces: [{ name: 'net1', sandbox: '/var/run/netns/pod1', pciID: '0000:03:00.2' }],
      ips: [{ address: '10.0.0.2/24', interface: 0 }],
    });
    const last = seen.at(-1)!;
    expect(last.op).toBe('add');
    expect(last.req).toMatchObject({
      containerID: 'c1',
      netns: '/var/run/netns/pod1',
      ifName: 'net1',
      path: '/usr/lib/cni',
      args: { K8S_POD_NAME: 'web-0', IgnoreUnknown: '1' },
    });
    expect(last.req.config).toMatchObject({ deviceID: '0000:03:00.2' });
  });

  it('prints nothing for DEL, CHECK and GC', async () => {
    expect(await cni(env('DEL', { CNI_NETNS: '' }), conf())).toMatchObject({ code: 0, raw: '' });
    expect(await cni(env('CHECK'), conf({ prevResult: { cniVersion: '1.0.0' } }))).toMatchObject({
      code: 0,
      raw: '',
    });
    expect(
      await cni(
        { CNI_COMMAND: 'GC', CNI_PATH: '/usr/lib/cni' },
        conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] }),
      ),
    ).toMatchObject({ code: 0, raw: '' });
  });

  it('passes agent errors through with their code', async () => {
    const r = await cni(env('ADD', { CNI_CONTAINERID: 'exhausted' }), conf());
    expect(r).toMatchObject({
      code: 1,
      out: { cniVersion: '1.0.0', code: 11, msg: 'no IP addresses available' },
    });
    const s = await cni({ CNI_COMMAND: 'STATUS' }, conf({ cniVersion: '1.1.0' }));
    expect(s.out).toMatchObject({ code: 50, msg: 'OVSDB not connected' });
  });

  it('answers VERSION without an agent', async () => {
    const r = await cni({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.4.0"}');
    expect(r.out).toEqual({
      cniVersion: '0.4.0',
      supportedVersions: ['0.3.1', '0.4.0', '1.0.0', '1.1.0'],
    });
  });

  it.each([
    [
      'an unreachable agent',
      env('ADD'),
      conf({ server_socket: '/nonexistent/cni.sock' }),
      11,
      /unreachable at \/nonexistent\/cni\.sock/,
    ],
    [
      'an unreachable agent on STATUS',
      { CNI_COMMAND: 'STATUS' },
      conf({ cniVersion: '1.1.0', server_socket: '/nonexistent/cni.sock' }),
      50,
      /unreachable/,
    ],
    ['malformed JSON', env('ADD'), '{"cniVersion":', 6, /decode network config/],
    [
      'an unsupported version',
      env('ADD'),
      conf({ cniVersion: '0.2.0' }),
      1,
      /incompatible CNI version "0\.2\.0"/,
    ],
    [
      'CHECK on 0.3.1',
      env('CHECK'),
      conf({ cniVersion: '0.3.1', prevResult: {} }),
      1,
      /does not allow CHECK/,
    ],
    [
      'a missing server_socket',
      env('ADD'),
      JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'ovs-offload-cni' }),
      7,
      /server_socket/,
    ],
    ['a bad vlan', env('ADD'), conf({ vlan: -1 }), 7, /vlan/],
    [
      'a missing pod name',
      env('ADD', { CNI_ARGS: 'K8S_POD_NAMESPACE=default' }),
      conf(),
      4,
      /K8S_POD_NAME is required/,
    ],
  ])('fails %s with the right code', async (_what, e, stdin, code, re) => {
    const before = seen.length;
    const r = await cni(e, stdin);
    expect(r.code).toBe(1);
    expect(r.out).toMatchObject({ code });
    expect((r.out as { msg: string }).msg).toMatch(re);
    expect(seen.length).toBe(before);
  });

  describe('when the caller closes a pipe early', () => {
    it("leaves quietly with the answer's exit code when stdout is closed", async () => {
      const ok = await cniClosed('stdout', { CNI_COMMAND: 'VERSION' }, '');
      expect(ok).toEqual({ code: 0, signal: null, open: '' });
      const failed = await cniClosed('stdout', env('ADD'), '{"cniVersion":');
      expect(failed).toEqual({ code: 1, signal: null, open: '' });
      const unreachable = await cniClosed(
        'stdout',
        env('ADD'),
        conf({ server_socket: path.join(dir, 'absent.sock') }),
      );
      expect(unreachable).toEqual({ code: 1, signal: null, open: '' });
    });

    it('still answers on stdout when stderr is closed', async () => {
      // NODE_DEBUG makes Node itself write to stderr while the request is under way.
      const r = await cniClosed(
        'stderr',
        { NODE_DEBUG: 'http,net', CNI_COMMAND: 'STATUS' },
        conf({ cniVersion: '1.1.0', server_socket: path.join(dir, 'absent.sock') }),
      );
      expect(r.code).toBe(1);
      expect(JSON.parse(r.open)).toMatchObject({ code: 50, msg: /unreachable/ });
    });
  });

  it('as a process, answers random CNI_* and stdin as the model says, with nothing on stderr', async () => {
    // What an environment can hold: no NUL, well-formed UTF-8.
    const sane = (e: Env) =>
      Object.fromEntries(
        Object.entries(e).map(([k, v]) => [
          k,
          Buffer.from((v ?? '').replaceAll('\0', ''), 'utf8').toString('utf8'),
        ]),
      );
    await fc.assert(
      fc.asyncProperty(anyEnv.map(sane), anyStdin, async (e, input) => {
        const want = expected(e, input);
        const r = await cniRaw(e, input);
        expect(r.stderr).toBe('');
        expect(r.signal).toBeNull();
        expect(r.code).toBe(want.kind === 'version' ? 0 : 1);
        expect(r.stdout.endsWith('\n') && r.stdout.indexOf('\n') === r.stdout.length - 1).toBe(
          true,
        );
        const out = JSON.parse(r.stdout) as Record<string, unknown>;
        const code =
          want.kind === 'error'
            ? want.code
            : want.kind === 'forward'
              ? want.op === 'status'
                ? 50
                : 11
              : undefined;
        if (code === undefined) expect(out).toMatchObject({ cniVersion: want.version });
        else expect(out).toMatchObject({ cniVersion: want.version, code });
      }),
      { numRuns: 16 },
    );
  }, 60_000);
});

describe('the compiled front end against the Node one, with the agent listening', () => {
  /** Runs `argv` as a runtime would: stdout, stderr, exit code, what the agent was asked. */
  async function run(argv: string[], e: Record<string, string>, input: Uint8Array) {
    front = argv;
    const before = seen.length;
    const r = await cniRaw(e, input);
    return { ...r, asked: seen.slice(before).map((s) => ({ op: s.op, req: s.req })) };
  }

  it('prints the same bytes, exits the same and asks the agent the same for random CNI_* and stdin', async () => {
    const live = Buffer.from(path.join(dir, 'cni.sock'), 'latin1');
    const sane = (e: Env) =>
      Object.fromEntries(
        Object.entries(e).map(([k, v]) => [
          k,
          Buffer.from((v ?? '').replaceAll('\0', ''), 'utf8').toString('utf8'),
        ]),
      );
    // The model's socket paths name no agent: point most of them at the live one, so the
    // compiled front end's own path (not only its hand-over) is what gets compared.
    const toLive = (input: Uint8Array) => {
      const text = Buffer.from(input).toString('latin1');
      const re = new RegExp(`${NOWHERE.replaceAll('/', '\\/')}\\/[a-z0-9.-]*\\.sock`, 'g');
      return new Uint8Array(Buffer.from(text.replace(re, live.toString('latin1')), 'latin1'));
    };
    // A copy with no Node front end beside it: what it answers, it answered by itself.
    const alone = path.join(dir, 'alone');
    await mkdir(alone);
    await copyFile(native, path.join(alone, 'ovs-offload-cni'));
    let carried = 0;
    await fc.assert(
      fc.asyncProperty(anyEnv.map(sane), anyStdin.map(toLive), async (e, input) => {
        const a = await run([process.execPath, bundle], e, input);
        let b = await run([path.join(alone, 'ovs-offload-cni')], e, input);
        // Without its Node front end, a hand-over ends in "cannot start" (or, for an agent it
        // could not reach, in "unreachable").
        if (
          /"msg":"(internal error: cannot start |ovs-offload agent unreachable at )/.test(b.stdout)
        )
          b = await run([native], e, input);
        else carried++;
        expect(b.stdout).toBe(a.stdout);
        expect(b.code).toBe(a.code);
        expect(b.stderr).toBe('');
        expect(b.asked).toEqual(a.asked);
      }),
      {
        numRuns: 30,
        // Requests the compiled front end carries itself, always among the cases: its own
        // path is compared whatever the random ones turn out to be.
        examples: [
          [env('ADD'), Buffer.from(conf({ deviceID: '0000:03:00.2' }))],
          [env('ADD', { CNI_CONTAINERID: 'exhausted' }), Buffer.from(conf())],
          [env('DEL', { CNI_NETNS: '' }), Buffer.from(conf())],
          [env('CHECK'), Buffer.from(conf())],
          [env('ADD', { CNI_IFNAME: '..' }), Buffer.from(conf({ vlan: 5000 }))],
          [env('ADD', { CNI_ARGS: 'K8S_POD_NAME=x' }), Buffer.from(conf({ provider: 'ovn' }))],
        ].map(([e, b]) => [e as Env, new Uint8Array(b as Buffer)]),
      },
    );
    expect(carried).toBeGreaterThanOrEqual(6);
  }, 300_000);
});

describe('the compiled front end against an agent that answers garbage', () => {
  /** A unix-socket server that reads the request head and writes `answer` raw, then closes. */
  async function rawAgent(answer: Buffer): Promise<{ sock: string; close(): Promise<void> }> {
    const sock = path.join(dir, `raw-${Math.random().toString(36).slice(2)}.sock`);
    const srv = createNetServer((c) => {
      c.once('data', () => c.end(answer));
      c.on('error', () => {});
    });
    await new Promise<void>((r) => srv.listen(sock, r));
    return { sock, close: () => new Promise<void>((r) => srv.close(() => r())) };
  }

  it.each([
    [
      'a NUL in the status line',
      'HTTP/1.1 200 OK\0\r\nx-cni-exit-code: 0\r\ncontent-length: 2\r\n\r\nhi',
    ],
    ['a NUL in a header', 'HTTP/1.1 200 OK\r\nx-cni-exit-code: 0\0\r\ncontent-length: 2\r\n\r\nhi'],
    [
      'a number with a space inside',
      'HTTP/1.1 200 OK\r\nx-cni-exit-code: 0\r\ncontent-length: 1 1\r\n\r\nhi',
    ],
    ['a short body', 'HTTP/1.1 200 OK\r\nx-cni-exit-code: 0\r\ncontent-length: 9\r\n\r\nhi'],
    ['no exit code', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi'],
    ['not HTTP', 'SSH-2.0-OpenSSH_9.2\r\n\r\n'],
  ])('%s: code 11 naming the socket, no signal, nothing on stderr', async (_what, answer) => {
    const agent = await rawAgent(Buffer.from(answer, 'latin1'));
    try {
      front = [native];
      const r = await cniRaw(env('ADD'), Buffer.from(conf({ server_socket: agent.sock })));
      expect(r.signal).toBeNull();
      expect(r.stderr).toBe('');
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject({
        cniVersion: '1.0.0',
        code: 11,
        msg: `agent at ${agent.sock} sent a malformed answer`,
      });
    } finally {
      await agent.close();
    }
  });
});
