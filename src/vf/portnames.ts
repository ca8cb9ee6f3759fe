/**
 * The grammar of `phys_port_name` for switch ports, as the kernel's devlink core prints it
 * (__devlink_port_phys_port_name_get, net/devlink/port.c):
 *   physical, virtual   p<port>[s<split>]        (l<linecard> in front on line-card switches)
 *   pcipf               pf<pf>                   (c<controller> in front when external or controller ≠ 0)
 *   pcivf               pf<pf>vf<vf>             (same c<controller> rule)
 *   pcisf               pf<pf>sf<sf>             (same c<controller> rule)
 * Kernels before devlink port attributes (mlx5 ≤ 4.x) gave a VF representor the bare VF number
 * ("3"). Anything else (`pf0hpf` is a netdev *name*, not a port name) is "other".
 */
export type PhysPortName =
  | { kind: 'physical'; port: number; split: number | null }
  | { kind: 'pf'; controller: number | null; pf: number }
  | { kind: 'vf'; controller: number | null; pf: number; vf: number }
  | { kind: 'sf'; controller: number | null; pf: number; sf: number }
  | { kind: 'legacyVf'; vf: number }
  | { kind: 'other'; text: string };

const PHYSICAL = /^(?:l\d+)?p(\d+)(?:s(\d+))?$/;
const FUNCTION = /^(?:c(\d+))?pf(\d+)(?:(vf|sf)(\d+))?$/;
const LEGACY_VF = /^\d+$/;

export function parsePhysPortName(raw: string): PhysPortName {
  const text = raw.trim();
  const p = PHYSICAL.exec(text);
  if (p) return { kind: 'physical', port: Number(p[1]), split: p[2] ? Number(p[2]) : null };
  const f = FUNCTION.exec(text);
  if (f) {
    const controller = f[1] !== undefined ? Number(f[1]) : null;
    const pf = Number(f[2]);
    if (f[3] === 'vf') return { kind: 'vf', controller, pf, vf: Number(f[4]) };
    if (f[3] === 'sf') return { kind: 'sf', controller, pf, sf: Number(f[4]) };
    return { kind: 'pf', controller, pf };
  }
  if (LEGACY_VF.test(text)) return { kind: 'legacyVf', vf: Number(text) };
  return { kind: 'other', text };
}
