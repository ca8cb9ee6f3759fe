import { z } from 'zod';
import { CommandError, errnoCode, NotSupportedError, type CommandRunner } from '../sys/index.js';
import type { EswitchMode } from './types.js';

/**
 * `devlink -j` answers, validated. A devlink that has nothing to say about a device (not a
 * devlink device: ENODEV; a driver without eswitch ops: EOPNOTSUPP; no devlink installed) is
 * an answer ("none"); anything that is not the JSON devlink prints is an error.
 */

export type DevlinkAnswer = { stdout: string } | { none: string };

const NO_ANSWER = /No such device|Operation not supported|not supported/i;

const DEVLINK_TIMEOUT_MS = 15_000;

export async function askDevlink(
  runner: CommandRunner,
  args: readonly string[],
): Promise<DevlinkAnswer> {
  try {
    const r = await runner.run(['devlink', '-j', ...args], { timeoutMs: DEVLINK_TIMEOUT_MS });
    return { stdout: r.stdout };
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    if (err.exitCode === null && errnoCode(err.cause) === 'ENOENT') return { none: 'no devlink' };
    if (err.exitCode !== null && NO_ANSWER.test(err.stderr)) {
      return { none: err.stderr.trim().split('\n').pop() ?? 'no answer' };
    }
    throw err;
  }
}

function parseJson(what: string, stdout: string): unknown {
  try {
    return JSON.parse(stdout) as unknown;
  } catch (err) {
    throw new NotSupportedError(what, {
      cause: err,
      message: `${what}: devlink printed something that is not JSON: ${snippet(stdout)}`,
    });
  }
}

function snippet(s: string): string {
  const t = s.trim().replace(/\s+/g, ' ');
  return JSON.stringify(t.length > 80 ? `${t.slice(0, 80)}…` : t);
}

function schemaError(what: string, err: z.ZodError, stdout: string): NotSupportedError {
  const issue = err.issues[0];
  const where = issue ? issue.path.map(String).join('.') : '';
  return new NotSupportedError(what, {
    cause: err,
    message: `${what}: unexpected devlink JSON (${where ? `${where}: ` : ''}${issue?.message ?? 'invalid'}): ${snippet(stdout)}`,
  });
}

// Extra keys (inline-mode, encap-mode, encap, …) vary with the iproute2 version: allowed.
const EswitchShowSchema = z.object({
  dev: z.record(z.string(), z.looseObject({ mode: z.string().min(1) })),
});

export interface EswitchState {
  mode: EswitchMode;
  inactive: boolean;
}

/** `devlink -j dev eswitch show pci/<pci>` → mode; "legacy" when devlink had no answer. */
export function parseEswitchShow(pci: string, answer: DevlinkAnswer): EswitchState {
  if ('none' in answer) return { mode: 'legacy', inactive: false };
  const what = `read eswitch mode of pci/${pci}`;
  const r = EswitchShowSchema.safeParse(parseJson(what, answer.stdout));
  if (!r.success) throw schemaError(what, r.error, answer.stdout);
  const attrs = r.data.dev[`pci/${pci}`];
  if (!attrs) {
    throw new NotSupportedError(what, {
      message: `${what}: devlink answered for another device: ${snippet(answer.stdout)}`,
    });
  }
  switch (attrs.mode) {
    case 'legacy':
      return { mode: 'legacy', inactive: false };
    case 'switchdev':
      return { mode: 'switchdev', inactive: false };
    case 'switchdev_inactive':
      return { mode: 'switchdev', inactive: true };
    default:
      throw new NotSupportedError(what, {
        message: `${what}: unknown eswitch mode ${JSON.stringify(attrs.mode)}`,
      });
  }
}

export function eswitchShowArgs(pci: string): string[] {
  return ['dev', 'eswitch', 'show', `pci/${pci}`];
}

/** One `devlink port` entry; older kernels/iproute2 omit controller, external, splittable. */
export interface DevlinkPort {
  /** `pci/0000:03:00.0/65535`. */
  handle: string;
  /** The devlink device part of the handle (`pci/0000:03:00.0`, `auxiliary/mlx5_core.eth.0`). */
  device: string;
  netdev: string | null;
  flavour: string | null;
  controller: number | null;
  pfnum: number | null;
  vfnum: number | null;
  external: boolean | null;
  /** `port` of a physical/virtual port. */
  port: number | null;
}

const PortAttrsSchema = z.looseObject({
  type: z.string().optional(),
  netdev: z.string().optional(),
  flavour: z.string().optional(),
  controller: z.number().int().nonnegative().optional(),
  pfnum: z.number().int().nonnegative().optional(),
  vfnum: z.number().int().nonnegative().optional(),
  external: z.boolean().optional(),
  port: z.number().int().nonnegative().optional(),
});
const PortShowSchema = z.object({ port: z.record(z.string(), PortAttrsSchema) });

/** `devlink -j port show` → ports; [] when devlink had no answer (old kernel, no devlink). */
export function parsePortShow(answer: DevlinkAnswer): DevlinkPort[] {
  if ('none' in answer) return [];
  const what = 'list devlink ports';
  const r = PortShowSchema.safeParse(parseJson(what, answer.stdout));
  if (!r.success) throw schemaError(what, r.error, answer.stdout);
  return Object.entries(r.data.port).map(([handle, a]) => {
    const slash = handle.lastIndexOf('/');
    return {
      handle,
      device: slash > 0 ? handle.slice(0, slash) : handle,
      netdev: a.netdev ?? null,
      flavour: a.flavour ?? null,
      controller: a.controller ?? null,
      pfnum: a.pfnum ?? null,
      vfnum: a.vfnum ?? null,
      external: a.external ?? null,
      port: a.port ?? null,
    };
  });
}

export const PORT_SHOW_ARGS: readonly string[] = ['port', 'show'];
