import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * The checkout (or install) root: the nearest folder above this module whose package.json
 * is ours. Works from src/ (tests) and from the bundles in dist/.
 */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        const name = (JSON.parse(readFileSync(pj, 'utf8')) as { name?: unknown }).name;
        if (name === 'ovs-offload') return (cached = dir);
      } catch {
        // not ours; keep climbing
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the ovs-offload package root');
    dir = up;
  }
}

/**
 * ovs-vswitchd's log file as OVS itself places it: `$OVS_LOGDIR/ovs-vswitchd.log`, else
 * /var/log/openvswitch/ovs-vswitchd.log (the packaged default).
 */
export function ovsVswitchdLogPath(): string {
  const dir = process.env.OVS_LOGDIR;
  return path.join(
    dir !== undefined && dir !== '' ? dir : '/var/log/openvswitch',
    'ovs-vswitchd.log',
  );
}
