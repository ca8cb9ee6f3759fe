import { z } from 'zod';
import type { CniResult, CniResultInterface } from '../../cni/types.js';
import { convertResult } from '../../cni/version.js';

/** A prevResult as chained plugins receive it (any supported version). */
export const PrevResultSchema = z
  .object({
    interfaces: z
      .array(z.object({ name: z.string(), sandbox: z.string().optional() }).passthrough())
      .optional(),
    ips: z
      .array(
        z
          .object({
            address: z.string(),
            gateway: z.string().optional(),
            interface: z.number().optional(),
          })
          .passthrough(),
      )
      .optional(),
    routes: z
      .array(z.object({ dst: z.string(), gw: z.string().optional() }).passthrough())
      .optional(),
    dns: z.record(z.string(), z.unknown()).optional(),
  })
  .passthrough();

/**
 * Our ADD result, appended to a prevResult when we are not first in the chain (so the
 * plugins before us keep their interfaces), rendered in the config's cniVersion.
 */
export function buildResult(
  cniVersion: string,
  iface: CniResultInterface,
  ip: CniResult | null,
  prevResult: unknown,
): CniResult {
  const prev = PrevResultSchema.safeParse(prevResult ?? {});
  const base = prev.success ? prev.data : {};
  const interfaces: CniResultInterface[] = [
    ...((base.interfaces ?? []) as CniResultInterface[]),
    iface,
  ];
  const index = interfaces.length - 1;
  const ips = [
    ...(base.ips ?? []).map(
      ({ version: _v, ...rest }) =>
        rest as { address: string; gateway?: string; interface?: number },
    ),
    ...(ip?.ips ?? []).map((a) => ({ ...a, interface: index })),
  ];
  const routes = [...(base.routes ?? []), ...(ip?.routes ?? [])];
  const dns = ip?.dns ?? base.dns;
  return convertResult(
    {
      cniVersion: '1.1.0',
      interfaces,
      ...(ips.length ? { ips } : {}),
      ...(routes.length ? { routes } : {}),
      ...(dns ? { dns } : {}),
    },
    cniVersion,
  );
}
