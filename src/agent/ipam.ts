import * as path from 'node:path';
import { z } from 'zod';
import { CniCode } from '../cni/errors.js';
import type { CniResult } from '../cni/types.js';
import { atLeast } from '../cni/version.js';
import { CommandError, files, InvalidInputError, type CommandRunner } from '../sys/index.js';
import { PluginError, TransientError } from './errors.js';

/** The IPAM plugin named by `ipam.type` is not in CNI_PATH (bad config: code 7). */
export class IpamPluginMissingError extends InvalidInputError {
  constructor(type: string, cniPath: string) {
    super('ipam.type', `IPAM plugin ${JSON.stringify(type)} not found in CNI_PATH ${cniPath}`);
  }
}

/**
 * Runs the IPAM plugin named by `ipam.type` from CNI_PATH, as libcni's delegate does: same
 * CNI_* environment, the whole network config on stdin, its result or error passed through.
 */
export interface IpamCall {
  command: 'ADD' | 'DEL' | 'CHECK' | 'GC';
  containerID: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS exactly as the runtime gave it. */
  cniArgs: string;
  /** CNI_PATH. */
  path: string;
  /** The network config with its ipam section (cniVersion decides the result format). */
  config: Record<string, unknown>;
}

const IpSchema = z
  .object({
    address: z.string(),
    gateway: z.string().optional(),
    interface: z.number().optional(),
    version: z.string().optional(),
  })
  .passthrough();
const RouteSchema = z.object({ dst: z.string(), gw: z.string().optional() }).passthrough();
const IpamResultSchema = z
  .object({
    cniVersion: z.string().optional(),
    ips: z.array(IpSchema).optional(),
    routes: z.array(RouteSchema).optional(),
    dns: z.record(z.string(), z.unknown()).optional(),
  })
  .passthrough();
const ErrorSchema = z
  .object({ code: z.number(), msg: z.string(), details: z.string().optional() })
  .passthrough();

export async function findPlugin(type: string, cniPath: string): Promise<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(type)) {
    throw new InvalidInputError('ipam.type', `${JSON.stringify(type)} is not a plugin name`);
  }
  for (const dir of cniPath.split(':')) {
    if (!dir.startsWith('/')) continue;
    const p = path.join(dir, type);
    if (await files.exists(p)) return p;
  }
  throw new IpamPluginMissingError(type, cniPath);
}

const VersionSchema = z.object({ supportedVersions: z.array(z.string()) }).passthrough();
const versionCache = new Map<string, { identity: string | null; versions: string[] }>();

/** The spec versions a plugin speaks (its VERSION answer), cached per binary. */
async function supportedVersions(runner: CommandRunner, plugin: string): Promise<string[]> {
  const identity = await files.identity(plugin);
  const hit = versionCache.get(plugin);
  if (hit && hit.identity === identity) return hit.versions;
  const r = await runner.run([plugin], {
    input: '{"cniVersion":"0.1.0"}',
    env: { CNI_COMMAND: 'VERSION' },
    timeoutMs: 10_000,
  });
  const parsed = VersionSchema.safeParse(JSON.parse(r.stdout || '{}'));
  const versions = parsed.success ? parsed.data.supportedVersions : [];
  versionCache.set(plugin, { identity, versions });
  return versions;
}

/**
 * The config as the IPAM plugin can read it. A node's IPAM plugins may predate the config's
 * cniVersion (Debian bookworm's host-local stops at 1.0.0, while GC needs a 1.1.0 config):
 * the highest version both know is used, since the IPAM part of the config and result did
 * not change between them.
 */
async function configFor(
  runner: CommandRunner,
  plugin: string,
  config: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const want = config.cniVersion;
  if (typeof want !== 'string') return config;
  const have = await supportedVersions(runner, plugin);
  if (have.includes(want)) return config;
  const older = have
    .filter((v) => !atLeast(v, want) || v === want)
    .sort((a, b) => (atLeast(a, b) ? -1 : 1));
  const best = older.find((v) => atLeast(v, '0.3.0'));
  return best ? { ...config, cniVersion: best } : config;
}

export async function runIpam(runner: CommandRunner, call: IpamCall): Promise<CniResult | null> {
  const ipam = call.config.ipam as { type?: unknown } | undefined;
  if (!ipam || typeof ipam.type !== 'string') return null;
  const plugin = await findPlugin(ipam.type, call.path);
  const config = await configFor(runner, plugin, call.config);
  const env = {
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerID,
    CNI_NETNS: call.netns,
    CNI_IFNAME: call.ifName,
    CNI_ARGS: call.cniArgs,
    CNI_PATH: call.path,
  };
  try {
    const r = await runner.run([plugin], {
      input: JSON.stringify(config),
      env,
      timeoutMs: 55_000,
    });
    if (call.command !== 'ADD') return null;
    const parsed = IpamResultSchema.safeParse(JSON.parse(r.stdout || '{}'));
    if (!parsed.success)
      throw new PluginError(
        CniCode.IoFailure,
        `IPAM ${ipam.type}: malformed result`,
        r.stdout.slice(0, 300),
      );
    return {
      cniVersion:
        parsed.data.cniVersion ??
        (typeof call.config.cniVersion === 'string' ? call.config.cniVersion : ''),
      ips: (parsed.data.ips ?? []).map(({ version: _v, interface: _i, ...ip }) => ({
        address: ip.address,
        ...(ip.gateway ? { gateway: ip.gateway } : {}),
      })),
      routes: (parsed.data.routes ?? []).map((rt) => ({
        dst: rt.dst,
        ...(rt.gw ? { gw: rt.gw } : {}),
      })),
      ...(parsed.data.dns ? { dns: parsed.data.dns } : {}),
    };
  } catch (err) {
    if (err instanceof CommandError) {
      // A CNI plugin reports failure as error JSON on stdout; pass its code and message on.
      let body: unknown;
      try {
        body = JSON.parse(err.stdout);
      } catch {
        body = undefined;
      }
      const e = ErrorSchema.safeParse(body);
      if (e.success)
        throw new PluginError(
          e.data.code,
          `IPAM ${ipam.type}: ${e.data.msg}`,
          e.data.details ?? '',
        );
      // A plugin killed at its timeout may answer next time; any other crash will not.
      if (err.timedOut)
        throw new TransientError(`IPAM ${ipam.type} ${call.command}: ${err.message}`);
      throw new PluginError(CniCode.IoFailure, `IPAM ${ipam.type} ${call.command}: ${err.message}`);
    }
    throw err;
  }
}

/**
 * CNI GC for the IPAM plugin of a network, with the runtime's list of valid attachments.
 * Only a plugin whose VERSION lists 1.1.0 knows GC: an older one (bookworm's host-local)
 * would answer an unknown command with an error, or worse, take it for something else.
 * Returns whether the plugin was asked.
 */
export async function gcIpam(
  runner: CommandRunner,
  config: Record<string, unknown>,
  cniPath: string,
): Promise<boolean> {
  const ipam = config.ipam as { type?: unknown } | undefined;
  if (!ipam || typeof ipam.type !== 'string') return false;
  let plugin: string;
  try {
    plugin = await findPlugin(ipam.type, cniPath);
  } catch (err) {
    if (err instanceof IpamPluginMissingError) return false;
    throw err;
  }
  if (!(await supportedVersions(runner, plugin)).includes('1.1.0')) return false;
  await runIpam(runner, {
    command: 'GC',
    containerID: '',
    netns: '',
    ifName: '',
    cniArgs: '',
    path: cniPath,
    config: { ...config, cniVersion: '1.1.0' },
  });
  return true;
}
