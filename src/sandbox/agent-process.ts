import * as path from 'node:path';
import {
  files,
  isAlive,
  packageRoot,
  signalPid,
  sleep,
  spawnToLog,
  type SpawnedProcess,
} from '../sys/index.js';
import type { EmulatedNic } from './nic/emulate.js';
import type { OvsInstance } from './ovs.js';
import type { Sandbox } from './sandbox.js';

/**
 * `ovs-offload agent` as it runs on a node, inside the sandbox host netns with the emulated
 * NIC's stand-ins first on PATH, logging JSON to a file in the sandbox dir.
 */
export class AgentProcess {
  constructor(
    readonly proc: SpawnedProcess,
    readonly configFile: string,
    readonly logFile: string,
    readonly config: SandboxAgentConfig,
  ) {}

  get pid(): number {
    return this.proc.pid;
  }

  get socket(): string {
    return this.config.cni.socket;
  }

  get stateDir(): string {
    return this.config.stateDir;
  }

  async log(): Promise<string> {
    return (await files.readTextOrNull(this.logFile)) ?? '';
  }

  /** Parsed JSON log lines (non-JSON lines are skipped). */
  async logLines(): Promise<Record<string, unknown>[]> {
    return (await this.log()).split('\n').flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  async waitReady(timeoutMs = 60_000): Promise<void> {
    const start = Date.now();
    for (;;) {
      const log = await this.log();
      if (log.includes('"msg":"agent ready"')) return;
      if (!isAlive(this.pid)) throw new Error(`agent exited before it was ready:\n${log}`);
      if (Date.now() - start > timeoutMs)
        throw new Error(`agent not ready in ${timeoutMs} ms:\n${log}`);
      await sleep(20);
    }
  }

  /** SIGTERM (graceful) or SIGKILL (a crash); resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (isAlive(this.pid)) signalPid(this.pid, signal);
    return this.proc.exited;
  }
}

/** The agent config keys the sandbox fills in (the rest are the agent's defaults). */
export interface SandboxAgentConfig {
  sysfsRoot: string;
  nodeName: string;
  stateDir: string;
  ovs: { db: string; bridge: string; [k: string]: unknown };
  nics: Record<string, unknown>[];
  cni: { socket: string };
  metrics: { listen: string | null; [k: string]: unknown };
  [k: string]: unknown;
}

export function sandboxAgentConfig(
  sb: Sandbox,
  ovs: OvsInstance,
  nic: EmulatedNic,
): SandboxAgentConfig {
  return {
    sysfsRoot: nic.sysfsRoot,
    nodeName: `node-${sb.id}`,
    stateDir: path.join(sb.dir, 'state'),
    ovs: { db: ovs.dbTarget, bridge: 'br-int' },
    nics: [{ pci: '0000:03:00.0' }],
    cni: { socket: path.join(sb.dir, 'cni.sock') },
    metrics: { listen: null },
  };
}

export async function launchAgent(
  sb: Sandbox,
  nic: EmulatedNic,
  config: SandboxAgentConfig,
  opts: {
    detached?: boolean;
    logLevel?: string;
    waitReady?: boolean;
    /** Extra environment (OVS_RUNDIR, so the agent's ovs-appctl finds ovs-vswitchd). */
    env?: Record<string, string>;
  } = {},
): Promise<AgentProcess> {
  const stamp = `${Date.now()}-${Math.random().toString(36).slice(2, 6)}`;
  const configFile = path.join(sb.dir, `agent-${stamp}.json`);
  const logFile = path.join(sb.dir, `agent-${stamp}.log`);
  await files.writeText(configFile, JSON.stringify(config, null, 2));
  const proc = spawnToLog(
    sb.inHost([path.join(packageRoot(), 'bin', 'ovs-offload'), 'agent', '--config', configFile]),
    logFile,
    { ...opts.env, PATH: nic.path, OVS_OFFLOAD_LOG_LEVEL: opts.logLevel ?? 'info' },
    { detached: opts.detached ?? false },
  );
  sb.registry.add({ kind: 'pid', pid: proc.pid, what: 'ovs-offload agent' });
  const agent = new AgentProcess(proc, configFile, logFile, config);
  if (opts.waitReady ?? true) await agent.waitReady();
  return agent;
}
