import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, symlink } from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll } from 'vitest';
import type { AgentConfigInput } from '../../src/agent/config.js';
import {
  launchAgent,
  sandboxAgentConfig,
  type AgentProcess,
  type SandboxAgentConfig,
} from '../../src/sandbox/index.js';
// Imported for its side effect first: sandbox cleanup (afterAll) must run after agents stop.
import './sandbox.js';
import type { Node } from './sandbox.js';

/**
 * The agent as it runs on a node: the real `bin/ovs-offload agent` process, inside the
 * sandbox host netns, with the emulated NIC's stand-ins first on PATH. The CNI front end
 * runs there too, invoked like a container runtime invokes it (env + stdin).
 */
const repo = path.resolve(import.meta.dirname, '../..');
const running: TestAgent[] = [];

afterAll(async () => {
  for (const a of running.splice(0)) await a.stop();
});

/** An agent process plus a synchronous log read, for assertion messages. */
export interface TestAgent {
  proc: AgentProcess;
  socket: string;
  stateDir: string;
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function agentConfig(node: Node, patch: Partial<AgentConfigInput> = {}): SandboxAgentConfig {
  return {
    ...sandboxAgentConfig(node.sb, node.ovs, node.nic),
    ...(patch as Record<string, unknown>),
  };
}

export async function startAgent(
  node: Node,
  cfg: SandboxAgentConfig,
  opts: { waitReady?: boolean } = {},
): Promise<TestAgent> {
  const proc = await launchAgent(node.sb, node.nic, cfg, {
    logLevel: process.env.OVS_OFFLOAD_LOG_LEVEL ?? 'debug',
    env: node.ovs.env,
    waitReady: opts.waitReady ?? true,
  });
  const a: TestAgent = {
    proc,
    socket: proc.socket,
    stateDir: proc.stateDir,
    log: () => (existsSync(proc.logFile) ? readFileSync(proc.logFile, 'utf8') : ''),
    stop: (signal) => proc.stop(signal),
  };
  running.push(a);
  return a;
}

/** CNI_PATH with ovs-offload-cni next to the Debian plugins, as /opt/cni/bin holds them. */
const cniPaths = new Map<string, Promise<string>>();
export function cniPath(node: Node): Promise<string> {
  let p = cniPaths.get(node.sb.dir);
  if (!p) {
    const dir = path.join(node.sb.dir, 'cni-bin');
    p = (async () => {
      await mkdir(dir, { recursive: true });
      await symlink(path.join(repo, 'bin/ovs-offload-cni'), path.join(dir, 'ovs-offload-cni'));
      return `${dir}:/usr/lib/cni`;
    })();
    cniPaths.set(node.sb.dir, p);
  }
  return p;
}

export interface CniCall {
  command: 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION';
  containerID?: string;
  netns?: string;
  ifName?: string;
  args?: Record<string, string>;
  config: Record<string, unknown>;
  /** Raw stdin instead of the JSON of `config` (malformed-input tests). */
  stdin?: string;
}

export interface CniOutcome {
  code: number;
  out: Record<string, unknown> | null;
  stdout: string;
  stderr: string;
}

/** Runs one plugin binary (by `type`, from CNI_PATH) in the sandbox host netns. */
export async function execPlugin(node: Node, call: CniCall): Promise<CniOutcome> {
  const cpath = await cniPath(node);
  const type = typeof call.config.type === 'string' ? call.config.type : 'ovs-offload-cni';
  const bin = cpath
    .split(':')
    .map((d) => path.join(d, type))
    .find((p) => existsSync(p));
  if (!bin) throw new Error(`plugin ${type} not in ${cpath}`);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: call.command,
    CNI_PATH: cpath,
  };
  if (call.containerID !== undefined) env.CNI_CONTAINERID = call.containerID;
  if (call.netns !== undefined) env.CNI_NETNS = call.netns;
  if (call.ifName !== undefined) env.CNI_IFNAME = call.ifName;
  if (call.args)
    env.CNI_ARGS = Object.entries(call.args)
      .map(([k, v]) => `${k}=${v}`)
      .join(';');
  return new Promise((resolve) => {
    const p = spawn('nsenter', [`--net=${node.sb.hostNetnsPath}`, bin], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    // 'close', not 'exit': a plugin that writes its answer and exits at once (the compiled
    // front end) can end before its stdout has been read.
    p.on('close', (code) => {
      let out: Record<string, unknown> | null;
      try {
        out = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : null;
      } catch {
        out = null;
      }
      resolve({ code: code ?? -1, out, stdout, stderr });
    });
    p.stdin.end(call.stdin ?? JSON.stringify(call.config));
  });
}

/**
 * A conflist run the way libcni runs it: ADD in order with each result passed on as
 * prevResult; DEL in reverse order with the cached ADD result; CHECK in order.
 */
export async function execConflist(
  node: Node,
  command: 'ADD' | 'DEL' | 'CHECK',
  list: { cniVersion: string; name: string; plugins: Record<string, unknown>[] },
  call: Omit<CniCall, 'command' | 'config'>,
  prevResult?: Record<string, unknown> | null,
): Promise<CniOutcome> {
  const plugins = command === 'DEL' ? [...list.plugins].reverse() : list.plugins;
  let prev = prevResult ?? null;
  let last: CniOutcome = { code: 0, out: null, stdout: '', stderr: '' };
  for (const p of plugins) {
    const config = {
      ...p,
      cniVersion: list.cniVersion,
      name: list.name,
      ...(prev ? { prevResult: prev } : {}),
    };
    last = await execPlugin(node, { ...call, command, config });
    if (last.code !== 0) return last;
    if (command === 'ADD') prev = last.out;
  }
  return command === 'ADD' ? { ...last, out: prev } : last;
}

export async function ipamAllocations(dataDir: string, network: string): Promise<string[]> {
  const dir = path.join(dataDir, network);
  if (!existsSync(dir)) return [];
  return (await readdir(dir)).filter((f) => /^[0-9a-f.:]+$/.test(f));
}
