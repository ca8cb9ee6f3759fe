import { execFile, execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { SUPPORTED_VERSIONS } from '../../src/cni/version.js';

/**
 * The CNI front end as deploy/ installs it — the compiled dist/ovs-offload-cni with the single
 * executable scripts/build-cni-executable.mjs makes beside it as ovs-offload-cni-node — run
 * the way a node without Node runs it: from a directory outside the checkout, with a clean
 * environment whose PATH has no node, and inside an empty root that holds nothing but the two
 * files and the C/C++ libraries ldd names for the second.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), 'oo-cniexe-'));
const built = path.join(work, 'build', 'ovs-offload-cni');
const builtNode = path.join(work, 'build', 'ovs-offload-cni-node');

/** Copies the pair into `dir`, as install-cni does; returns the plugin's path there. */
function install(dir: string): string {
  copyFileSync(builtNode, path.join(dir, 'ovs-offload-cni-node'));
  copyFileSync(built, path.join(dir, 'ovs-offload-cni'));
  return path.join(dir, 'ovs-offload-cni');
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs argv with exactly `env` (nothing inherited) and `input` on stdin. */
function run(
  argv: string[],
  env: Record<string, string>,
  input: string,
  cwd: string,
): Promise<Run> {
  return new Promise((resolve) => {
    // env -i, as the brief of a host without Node: only what we name reaches the process.
    const child = execFile(
      '/usr/bin/env',
      ['-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv],
      { cwd, env: {}, encoding: 'utf8', timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    // A process that never reads stdin (sh -c …) may exit before the write lands.
    child.stdin!.on('error', () => {});
    child.stdin!.end(input);
  });
}

/**
 * Runs `exe` with its stdout pipe already closed by the reader (a runtime that gave up, or a
 * shell's `| head -c0`): stdin is ended only once the pipe is shut, so the answer meets EPIPE.
 */
function runStdoutClosed(
  exe: string,
  env: Record<string, string>,
  input: string,
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(exe, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.stdin.on('error', () => {});
    child.stdout.on('close', () => child.stdin.end(input));
    child.stdout.destroy();
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

/** The first plugin of the Kube-OVN offload NAD, as libcni hands it to the plugin. */
function kubeOvnNetConf(): Record<string, unknown> {
  const nad = parseYaml(
    readFileSync(path.join(root, 'deploy/examples/nad-offload-kube-ovn.yaml'), 'utf8'),
  ) as { spec: { config: string } };
  const list = JSON.parse(nad.spec.config) as {
    cniVersion: string;
    name: string;
    plugins: Record<string, unknown>[];
  };
  // Multus adds the VF the device plugin allocated.
  return {
    ...list.plugins[0],
    name: list.name,
    cniVersion: list.cniVersion,
    runtimeConfig: { deviceID: '0000:04:00.2' },
  };
}

beforeAll(() => {
  // dist/ is fresh: the integration global setup just ran scripts/build.mjs.
  execFileSync(
    process.execPath,
    [path.join(root, 'scripts/build-cni-executable.mjs'), '--no-build', '--out', builtNode],
    { stdio: 'pipe' },
  );
  copyFileSync(path.join(root, 'dist/ovs-offload-cni'), built);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('ovs-offload-cni as installed: compiled front end + Node single executable', () => {
  it('runs from a directory outside the checkout, no node_modules, no node on PATH', async () => {
    const dir = path.join(work, 'opt-cni-bin');
    mkdirSync(dir);
    install(dir);
    expect(realpathSync(dir).startsWith(realpathSync(root))).toBe(false);
    // Node's module lookup climbs every ancestor: none may offer a node_modules.
    for (let d = dir; ; d = path.dirname(d)) {
      expect(existsSync(path.join(d, 'node_modules')), d).toBe(false);
      if (d === path.dirname(d)) break;
    }
    // PATH=/usr/bin:/bin without node: a folder of links to everything there but Node.
    const pathDir = path.join(work, 'path');
    mkdirSync(pathDir);
    for (const bin of ['/usr/bin', '/bin']) {
      for (const name of readdirSync(bin)) {
        if (/^(node|nodejs|npm|npx|corepack)$/.test(name)) continue;
        if (!existsSync(path.join(pathDir, name)))
          symlinkSync(path.join(bin, name), path.join(pathDir, name));
      }
    }
    const noNode = await run(
      ['sh', '-c', 'command -v node || echo absent'],
      { PATH: pathDir },
      '',
      dir,
    );
    expect(noNode.stdout.trim()).toBe('absent');

    const v = await run(['./ovs-offload-cni'], { PATH: pathDir, CNI_COMMAND: 'VERSION' }, '', dir);
    expect(v).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(v.stdout)).toEqual({
      cniVersion: '1.1.0',
      supportedVersions: [...SUPPORTED_VERSIONS],
    });
    const asked = await run(
      ['./ovs-offload-cni'],
      { PATH: pathDir, CNI_COMMAND: 'VERSION' },
      '{"cniVersion":"0.4.0"}',
      dir,
    );
    expect(JSON.parse(asked.stdout)).toMatchObject({ cniVersion: '0.4.0' });
  });

  it('leaves quietly, with the exit code of its answer, when stdout is closed early', async () => {
    expect(await runStdoutClosed(built, { CNI_COMMAND: 'VERSION' }, '')).toEqual({
      code: 0,
      signal: null,
      stderr: '',
    });
    const unreachable = await runStdoutClosed(
      built,
      {
        CNI_COMMAND: 'ADD',
        CNI_CONTAINERID: 'c0ffee',
        CNI_NETNS: '/var/run/netns/cni-1234',
        CNI_IFNAME: 'net1',
        CNI_PATH: '/opt/cni/bin',
        CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0',
      },
      JSON.stringify({ ...kubeOvnNetConf(), server_socket: path.join(work, 'absent.sock') }),
    );
    expect(unreachable).toEqual({ code: 1, signal: null, stderr: '' });
  });

  it('answers input no runtime should send with a documented code, nothing on stderr', async () => {
    const env = {
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'c'.repeat(1024),
      CNI_NETNS: '/var/run/netns/cni-1234',
      CNI_IFNAME: 'net1',
      CNI_PATH: '/opt/cni/bin',
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0',
    };
    const conf = JSON.stringify({ ...kubeOvnNetConf(), server_socket: path.join(work, 'no.sock') });
    const cases: [Record<string, string>, string, number][] = [
      [env, conf, 11],
      [env, conf.slice(0, -1) + ',"x":' + '['.repeat(50_000) + ']'.repeat(50_000) + '}', 6],
      [env, '\u0000\u00ff not json', 6],
      [{ ...env, CNI_IFNAME: '..' }, conf, 4],
      [{ ...env, CNI_ARGS: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;FOO=1' }, conf, 4],
      [{ ...env, CNI_COMMAND: 'FROB' }, conf, 4],
      [{ CNI_COMMAND: 'VERSION' }, '\u0000\u00ff not json', 0],
    ];
    for (const [e, input, code] of cases) {
      const r = await run([built], e, input, work);
      expect(r.stderr, JSON.stringify(e)).toBe('');
      expect(r.code).toBe(code === 0 ? 0 : 1);
      const out = JSON.parse(r.stdout) as Record<string, unknown>;
      if (code === 0) expect(out).toMatchObject({ supportedVersions: [...SUPPORTED_VERSIONS] });
      else expect(out).toMatchObject({ code });
    }
  });

  describe('in an empty root with only the libraries ldd names', () => {
    const jail = path.join(work, 'root');
    const sock = '/run/ovs-offload/cni.sock';
    let server: Server;
    const received: { url: string; body: Record<string, unknown> }[] = [];
    /** Whether the double has the agent's /api/v1/cni, and what it answers there. */
    let courier: { stdout: string; code: number } | null = null;

    beforeAll(async () => {
      mkdirSync(path.join(jail, 'opt/cni/bin'), { recursive: true });
      install(path.join(jail, 'opt/cni/bin'));
      // The compiled front end is static: only the Node one needs libraries.
      expect(execFileSync('file', [built], { encoding: 'utf8' })).toMatch(/statically linked/);
      const ldd = execFileSync('ldd', [builtNode], { encoding: 'utf8' });
      for (const lib of ldd.match(/\/\S+/g) ?? []) {
        mkdirSync(path.join(jail, path.dirname(lib)), { recursive: true });
        copyFileSync(lib, path.join(jail, lib));
      }
      // A test double of the agent's CNI server: records each request, answers like the agent.
      mkdirSync(path.join(jail, path.dirname(sock)), { recursive: true });
      server = createServer((req: IncomingMessage, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          if (req.url === '/api/v1/cni') {
            // An agent older than /api/v1/cni answers 404 here, as ours does for any
            // unknown endpoint.
            const raw = Buffer.concat(chunks);
            const env: Record<string, string> = {};
            let pos = 0;
            for (let nul = raw.indexOf(0, pos); nul > pos; nul = raw.indexOf(0, pos)) {
              const entry = raw.subarray(pos, nul).toString('utf8');
              env[entry.slice(0, entry.indexOf('='))] = entry.slice(entry.indexOf('=') + 1);
              pos = nul + 1;
            }
            received.push({
              url: req.url,
              body: { env, stdin: raw.subarray(pos + 1).toString('utf8') },
            });
            if (!courier) {
              res.writeHead(404, { 'content-type': 'application/json' });
              res.end('{"code":7,"msg":"no such endpoint: POST /api/v1/cni"}');
              return;
            }
            res.writeHead(200, {
              'content-length': Buffer.byteLength(courier.stdout),
              'x-cni-exit-code': String(courier.code),
            });
            res.end(courier.stdout);
            return;
          }
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<
            string,
            unknown
          >;
          received.push({ url: req.url ?? '', body });
          const result =
            req.url === '/api/v1/add'
              ? {
                  cniVersion: '1.0.0',
                  interfaces: [{ name: 'net1', mac: '0a:58:0a:10:00:05', sandbox: body.netns }],
                  ips: [{ address: '10.16.0.5/16', gateway: '10.16.0.1', interface: 0 }],
                }
              : {};
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ result }));
        });
      });
      await new Promise<void>((resolve) => server.listen(path.join(jail, sock), resolve));
    });

    afterAll(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    const chroot = (env: Record<string, string>, input: string) =>
      run(['/usr/sbin/chroot', jail, '/opt/cni/bin/ovs-offload-cni'], env, input, work);

    it('holds no node and no node_modules', () => {
      const all = execFileSync('find', [jail, '-mindepth', '1'], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .map((p) => path.relative(jail, p));
      expect(all.filter((p) => /(^|\/)(node|nodejs|node_modules)$/.test(p))).toEqual([]);
      expect(all.filter((p) => p.startsWith('usr/bin') || p.startsWith('bin/'))).toEqual([]);
    });

    it('answers VERSION', async () => {
      const v = await chroot({ CNI_COMMAND: 'VERSION' }, '');
      expect(v).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(v.stdout)).toMatchObject({ supportedVersions: [...SUPPORTED_VERSIONS] });
    });

    it('forwards ADD of the Kube-OVN NAD to the agent socket and prints its result', async () => {
      const conf = kubeOvnNetConf();
      const r = await chroot(
        {
          CNI_COMMAND: 'ADD',
          CNI_CONTAINERID: 'c0ffee',
          CNI_NETNS: '/var/run/netns/cni-1234',
          CNI_IFNAME: 'net1',
          CNI_PATH: '/opt/cni/bin',
          CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0',
        },
        JSON.stringify(conf),
      );
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(r.stdout)).toMatchObject({
        cniVersion: '1.0.0',
        ips: [{ address: '10.16.0.5/16' }],
      });
      // The compiled front end asked first; the double, like an older agent, had no
      // /api/v1/cni, so the Node front end beside it spoke the per-command endpoint.
      expect(received.at(-2)?.url).toBe('/api/v1/cni');
      expect(received.at(-1)).toEqual({
        url: '/api/v1/add',
        body: {
          containerID: 'c0ffee',
          netns: '/var/run/netns/cni-1234',
          ifName: 'net1',
          args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'web-0' },
          path: '/opt/cni/bin',
          config: conf,
        },
      });
    });

    it('carries ADD to /api/v1/cni by itself and prints the answer byte for byte', async () => {
      const conf = JSON.stringify(kubeOvnNetConf());
      const env = {
        CNI_COMMAND: 'ADD',
        CNI_CONTAINERID: 'c0ffee',
        CNI_NETNS: '/var/run/netns/cni-1234',
        CNI_IFNAME: 'net1',
        CNI_PATH: '/opt/cni/bin',
        CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0',
        HOME: '/root',
      };
      try {
        courier = { stdout: '{"cniVersion":"1.0.0","ips":[]}\n', code: 0 };
        const before = received.length;
        const r = await chroot(env, conf);
        expect(r).toEqual({ code: 0, stdout: courier.stdout, stderr: '' });
        // One request, no hand-over; the CNI_* variables and stdin as they came, nothing else.
        expect(received.slice(before)).toEqual([
          {
            url: '/api/v1/cni',
            body: {
              env: Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('CNI_'))),
              stdin: conf,
            },
          },
        ]);
        courier = { stdout: '{"cniVersion":"1.0.0","code":7,"msg":"bad"}\n', code: 1 };
        expect(await chroot(env, conf)).toEqual({ code: 1, stdout: courier.stdout, stderr: '' });
      } finally {
        courier = null;
      }
    });

    it('answers STATUS (the install check of docs/install.md), and 50 without an agent', async () => {
      const conf = {
        cniVersion: '1.1.0',
        name: 'check',
        type: 'ovs-offload-cni',
        server_socket: sock,
      };
      const ok = await chroot({ CNI_COMMAND: 'STATUS' }, JSON.stringify(conf));
      expect(ok).toEqual({ code: 0, stdout: '', stderr: '' });
      expect(received.at(-1)?.url).toBe('/api/v1/status');
      const down = await chroot(
        { CNI_COMMAND: 'STATUS' },
        JSON.stringify({ ...conf, server_socket: '/run/ovs-offload/absent.sock' }),
      );
      expect(down.code).toBe(1);
      expect(JSON.parse(down.stdout)).toMatchObject({ code: 50 });
    });
  });
});
