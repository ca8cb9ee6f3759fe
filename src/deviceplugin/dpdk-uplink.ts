import { parseDpdkDevargs } from '../representor/index.js';
import type { DpdkUplinkState, PfState } from './model.js';

/**
 * The physical-port link of PFs that DPDK owns. The device plugin cannot reach OVSDB itself
 * (src/deviceplugin imports no src/ovs); whoever embeds it (the agent) hands it a source of
 * the `type=dpdk` Interface rows.
 */

export interface DpdkPortLink {
  name: string;
  /** `options:dpdk-devargs`. */
  devargs: string | null;
  /** `link_state`. */
  linkState: string | null;
}

export interface DpdkLinkSource {
  ports(): Promise<readonly DpdkPortLink[]>;
}

/** The port that opens the PF itself: devargs naming its PCI address, no `representor=`. */
export function uplinkPortOf(pfPci: string, ports: readonly DpdkPortLink[]): DpdkPortLink | null {
  const mine = ports
    .filter((p) => {
      const d = p.devargs === null ? null : parseDpdkDevargs(p.devargs);
      return d !== null && d.pci === pfPci && d.representor === null;
    })
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  return mine[0] ?? null;
}

export function dpdkUplinkState(
  pfPci: string,
  ports: readonly DpdkPortLink[] | null,
): DpdkUplinkState {
  if (ports === null) return { known: false, port: null, linkState: null };
  const p = uplinkPortOf(pfPci, ports);
  return { known: true, port: p?.name ?? null, linkState: p?.linkState ?? null };
}

/** The PF with its DPDK uplink state applied (PFs with a netdev are returned as they are). */
export function withDpdkUplink(pf: PfState, ports: readonly DpdkPortLink[] | null): PfState {
  if (pf.eswitchMode !== 'dpdk') return pf;
  const dpdkUplink = dpdkUplinkState(pf.pci, ports);
  return {
    ...pf,
    uplink: dpdkUplink.port,
    linkUp: dpdkUplink.known && dpdkUplink.linkState === 'up',
    dpdkUplink,
  };
}
