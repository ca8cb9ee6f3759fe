import type { PortEntry } from './types.js';

/**
 * The port tables OVS prints, read into PortEntry rows: `ovs-appctl dpif/show`
 *
 *     netdev@ovs-netdev: hit:6 missed:6
 *       br-int:
 *         br-int 65534/1: (tap)
 *         onjgup0_0 1/2: (system)
 *         patch-ex 3/none: (patch: peer=patch-in)
 *
 * (name, OpenFlow port / datapath port, netdev type per bridge) and `ovs-appctl dpctl/show`
 *
 *     system@ovs-system:
 *       port 2: eth1
 *       port 3: genev_sys_6081 (geneve: packet_type=ptap)
 *
 * (datapath port and name only; a port without a type there is a `system` netdev).
 * Dumps without `-m` print datapath port numbers, and these are the only tables that say
 * which port a number is: OpenFlow `ofport` differs from it on every datapath.
 */

const DATAPATH_RE = /^(\S+@\S+):(?:\s|$)/;
const BRIDGE_RE = /^\s+(\S+):\s*$/;
const DPIF_PORT_RE = /^\s+(\S+) (\d+)\/(\d+|none):(?:\s+\(([^:)]*).*)?$/;
const DPCTL_PORT_RE = /^\s*port (\d+): (\S+)(?:\s+\(([^:)]*).*)?$/;

const num = (s: string | undefined): number | null =>
  s === undefined || !/^\d+$/.test(s) ? null : Number(s);

export function parsePortTable(text: string): PortEntry[] {
  const out: PortEntry[] = [];
  let datapath: string | null = null;
  let bridge: string | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    // Blank lines and `#` comments (a saved file's provenance) are not ports.
    if (line.trim() === '' || line.startsWith('#')) continue;
    const dp = DATAPATH_RE.exec(line);
    if (dp) {
      datapath = dp[1] ?? null;
      bridge = null;
      continue;
    }
    const p = DPIF_PORT_RE.exec(line);
    if (p) {
      out.push(entry(p[1] ?? '', num(p[2]), num(p[3]), bridge, p[4] ?? null, datapath));
      continue;
    }
    const q = DPCTL_PORT_RE.exec(line);
    if (q) {
      out.push(entry(q[2] ?? '', null, num(q[1]), null, q[3] ?? 'system', datapath));
      continue;
    }
    const b = BRIDGE_RE.exec(line);
    // `  flows: 6` and `  lookups: …` of dpctl/show carry text after the colon: not bridges.
    if (b) bridge = b[1] ?? null;
  }
  return out;
}

function entry(
  name: string,
  ofport: number | null,
  odp: number | null,
  bridge: string | null,
  type: string | null,
  datapath: string | null,
): PortEntry {
  return { name, ofport, odp, bridge, pod: null, type, datapath, error: null };
}
