import * as path from 'node:path';
import { files, type CommandRunner } from '../sys/index.js';

export interface ConfList {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

export interface CniInvocation {
  containerID: string;
  netns: string;
  ifName: string;
  args: Record<string, string>;
}

/**
 * Runs a CNI conflist the way libcni (and so containerd/CRI-O under Multus) does: plugins
 * found by `type` in CNI_PATH, ADD in order with each result handed on as `prevResult`,
 * DEL in reverse with the cached ADD result. Plugins run with `runPrefix` (nsenter into the
 * sandbox host netns: where a node's runtime runs them).
 */
export class CniRunner {
  constructor(
    private readonly runner: CommandRunner,
    readonly cniPath: string,
    private readonly runPrefix: readonly string[] = [],
  ) {}

  private async find(type: string): Promise<string> {
    for (const dir of this.cniPath.split(':')) {
      const p = path.join(dir, type);
      if (await files.exists(p)) return p;
    }
    throw new Error(`CNI plugin ${type} not found in ${this.cniPath}`);
  }

  async exec(
    command: 'ADD' | 'DEL' | 'CHECK',
    config: Record<string, unknown>,
    inv: CniInvocation,
  ): Promise<unknown> {
    const bin = await this.find(String(config.type));
    const r = await this.runner.run([...this.runPrefix, bin], {
      input: JSON.stringify(config),
      env: {
        CNI_COMMAND: command,
        CNI_CONTAINERID: inv.containerID,
        CNI_NETNS: inv.netns,
        CNI_IFNAME: inv.ifName,
        CNI_PATH: this.cniPath,
        CNI_ARGS: Object.entries(inv.args)
          .map(([k, v]) => `${k}=${v}`)
          .join(';'),
      },
      okExitCodes: [1],
      timeoutMs: 90_000,
    });
    const out: unknown = r.stdout.trim() ? JSON.parse(r.stdout) : null;
    if (r.exitCode !== 0) {
      const e = out as { code?: number; msg?: string } | null;
      throw new Error(
        `${String(config.type)} ${command}: CNI error ${e?.code ?? '?'}: ${e?.msg ?? r.stderr.trim()}`,
      );
    }
    return out;
  }

  async run(
    command: 'ADD' | 'DEL',
    list: ConfList,
    inv: CniInvocation,
    cached?: unknown,
  ): Promise<unknown> {
    const plugins = command === 'DEL' ? [...list.plugins].reverse() : list.plugins;
    let prev: unknown = cached ?? null;
    for (const p of plugins) {
      const config = {
        ...p,
        cniVersion: list.cniVersion,
        name: list.name,
        ...(prev ? { prevResult: prev } : {}),
      };
      const out = await this.exec(command, config, inv);
      if (command === 'ADD') prev = out;
    }
    return prev;
  }
}
