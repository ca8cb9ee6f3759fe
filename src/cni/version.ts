import { CniCode, CniError } from './errors.js';
import type { CniResult, CniResultInterface, CniRoute } from './types.js';

export const SUPPORTED_VERSIONS = ['0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST: CniVersion = '1.1.0';

export function isSupported(v: unknown): v is CniVersion {
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

function cmp(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function atLeast(v: string, min: string): boolean {
  return cmp(v, min) >= 0;
}

/** CHECK exists since 0.4.0, STATUS and GC since 1.1.0: older configs must not get them. */
export function assertCommandAllowed(command: string, version: string): void {
  const min =
    command === 'CHECK' ? '0.4.0' : command === 'STATUS' || command === 'GC' ? '1.1.0' : '0.0.0';
  if (!atLeast(version, min)) {
    throw new CniError(
      CniCode.IncompatibleVersion,
      `config version ${version} does not allow ${command}`,
      `${command} needs cniVersion ${min} or newer`,
    );
  }
}

const ROUTE_11_ONLY = ['mtu', 'advmss', 'priority', 'table', 'scope'] as const;

/**
 * Renders a result (kept internally in 1.1.0 form) in the version the config asked for:
 * 0.3.x/0.4.0 carry `version` on each IP; 1.1.0 adds interface `pciID`/`socketPath` and
 * route attributes that older readers do not know.
 */
export function convertResult(r: CniResult, to: string): CniResult {
  const v11 = atLeast(to, '1.1.0');
  const v1 = atLeast(to, '1.0.0');
  const interfaces = r.interfaces?.map((i): CniResultInterface => {
    if (v11) return i;
    const { pciID: _p, socketPath: _s, ...rest } = i;
    return rest;
  });
  const ips = r.ips?.map((ip) => {
    const { version: _v, ...rest } = ip;
    return v1 ? rest : { ...rest, version: ip.address.includes(':') ? '6' : '4' };
  });
  const routes = r.routes?.map((rt): CniRoute => {
    if (v11) return rt;
    const out: CniRoute = { ...rt };
    for (const k of ROUTE_11_ONLY) delete out[k];
    return out;
  });
  return {
    cniVersion: to,
    ...(interfaces ? { interfaces } : {}),
    ...(ips ? { ips } : {}),
    ...(routes ? { routes } : {}),
    ...(r.dns ? { dns: r.dns } : {}),
  };
}
