import { CommandError, errorMessage, mapLimit, type CommandRunner } from '../sys/index.js';
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
  /** Of those, the ones this call switched on (the only ones an undo may switch off again). */
  switched: string[];
  warnings: string[];
}

/**
 * Per netdev at once: each is one or two short processes, and a PF with hundreds of
 * representors would otherwise pay them all in sequence at every agent start.
 */
const ETHTOOL_CONCURRENCY = 8;

type Outcome =
  { dev: string; state: 'on'; switched: boolean } | { dev: string; state: 'refused'; why: string };

/**
 * `ethtool -k <dev>` first: when hw-tc-offload already reads on (every restart after the
 * first start) nothing is written; otherwise `ethtool -K <dev> hw-tc-offload on`, verified
 * with a second `ethtool -k`.
 */
async function ensureOne(runner: CommandRunner, dev: string): Promise<Outcome> {
  try {
    if ((await features(runner, dev)) === true) return { dev, state: 'on', switched: false };
  } catch {
    // Unreadable before: the write and its verification below say why.
  }
  let refusal: string | null = null;
  try {
    await runner.run(['ethtool', '-K', dev, 'hw-tc-offload', 'on'], {
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
    state = await features(runner, dev);
  } catch (err) {
    refusal ??= `ethtool -k failed: ${errorMessage(err)}`;
  }
  if (state === true) return { dev, state: 'on', switched: true };
  return {
    dev,
    state: 'refused',
    why: refusal ?? (state === null ? 'ethtool -k does not list it' : 'still off'),
  };
}

/** hw-tc-offload on for each netdev (already on: left alone), a few netdevs at a time. */
export async function ensureHwTcOffload(
  ctx: NicContext,
  netdevs: readonly string[],
): Promise<TcOffloadResult> {
  const outcomes = await mapLimit(netdevs, ETHTOOL_CONCURRENCY, (dev) =>
    ensureOne(ctx.runner, dev),
  );
  const out: TcOffloadResult = { on: [], switched: [], warnings: [] };
  for (const o of outcomes) {
    if (o.state === 'on') {
      out.on.push(o.dev);
      if (o.switched) out.switched.push(o.dev);
      continue;
    }
    out.warnings.push(`hw-tc-offload on ${o.dev}: ${o.why} (tc rules stay in software)`);
    ctx.logger?.warn({ netdev: o.dev, why: o.why }, 'hw-tc-offload refused');
  }
  return out;
}

/** Undo for ensureHwTcOffload: best effort, a representor may be gone already. */
export async function disableHwTcOffload(
  ctx: NicContext,
  netdevs: readonly string[],
): Promise<void> {
  await mapLimit(netdevs, ETHTOOL_CONCURRENCY, (dev) =>
    ctx.runner
      .run(['ethtool', '-K', dev, 'hw-tc-offload', 'off'], { timeoutMs: ETHTOOL_TIMEOUT_MS })
      .catch(() => undefined),
  );
}
