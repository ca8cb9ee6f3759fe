import { CommandError, errorMessage, type CommandRunner } from '../sys/index.js';
import type { NicContext } from '../vf/index.js';

/**
 * TC flower offload must be switched on per netdev (`hw-tc-offload`) on the uplink and every
 * representor, or the kernel keeps OVS's tc rules in software. Some NICs/firmware refuse it;
 * that only costs offload, so it is a warning, never a failure that blocks pods.
 */

const ETHTOOL_TIMEOUT_MS = 15_000;

/** `ethtool -k` prints `hw-tc-offload: on` / `off` / `off [fixed]`. */
export function parseHwTcOffload(features: string): boolean | null {
  const m = /^hw-tc-offload:\s+(on|off)\b/m.exec(features);
  return m ? m[1] === 'on' : null;
}

async function features(runner: CommandRunner, netdev: string): Promise<boolean | null> {
  const r = await runner.run(['ethtool', '-k', netdev], { timeoutMs: ETHTOOL_TIMEOUT_MS });
  return parseHwTcOffload(r.stdout);
}

export interface TcOffloadResult {
  /** Netdevs where hw-tc-offload is now verified on. */
  on: string[];
  warnings: string[];
}

/** `ethtool -K <dev> hw-tc-offload on`, verified with `ethtool -k <dev>`, one netdev at a time. */
export async function ensureHwTcOffload(
  ctx: NicContext,
  netdevs: readonly string[],
): Promise<TcOffloadResult> {
  const out: TcOffloadResult = { on: [], warnings: [] };
  for (const dev of netdevs) {
    let refusal: string | null = null;
    try {
      await ctx.runner.run(['ethtool', '-K', dev, 'hw-tc-offload', 'on'], {
        timeoutMs: ETHTOOL_TIMEOUT_MS,
      });
    } catch (err) {
      refusal =
        err instanceof CommandError && err.stderr.trim()
          ? (err.stderr.trim().split('\n')[0] ?? '')
          : errorMessage(err);
    }
    let state: boolean | null = null;
    try {
      state = await features(ctx.runner, dev);
    } catch (err) {
      refusal ??= `ethtool -k failed: ${errorMessage(err)}`;
    }
    if (state === true) {
      out.on.push(dev);
      continue;
    }
    const why = refusal ?? (state === null ? 'ethtool -k does not list it' : 'still off');
    out.warnings.push(`hw-tc-offload on ${dev}: ${why} (tc rules stay in software)`);
    ctx.logger?.warn({ netdev: dev, why }, 'hw-tc-offload refused');
  }
  return out;
}

/** Undo for ensureHwTcOffload: best effort, a representor may be gone already. */
export async function disableHwTcOffload(
  ctx: NicContext,
  netdevs: readonly string[],
): Promise<void> {
  for (const dev of netdevs) {
    await ctx.runner
      .run(['ethtool', '-K', dev, 'hw-tc-offload', 'off'], { timeoutMs: ETHTOOL_TIMEOUT_MS })
      .catch(() => undefined);
  }
}
