import type { NicState } from './state.js';
import type { NicStateView } from './protocol.js';

/** The PFs as they stand, without their VFs (no link lookup needed). */
export function view(nic: NicState): NicStateView {
  return {
    identity: nic.identity.name,
    pfs: nic.pfs.map((pf) => ({
      index: pf.index,
      pci: pf.pci,
      netdev: pf.uplink,
      wire: pf.wire,
      mode: pf.mode,
      numVfs: pf.numVfs,
      totalVfs: pf.totalVfs,
      vfs: [],
    })),
  };
}

/** The PFs with every VF: its driver, its host netdev and representor as the links are now. */
export async function fullView(nic: NicState): Promise<NicStateView> {
  const links = await nic.hostLinks();
  const v = view(nic);
  for (const [i, pf] of nic.pfs.entries()) {
    const pv = v.pfs[i];
    if (!pv) continue;
    pv.vfs = pf.vfs.map((vf) => {
      const peer = links.byIndex.get(vf.peerIfindex);
      const end = peer ? links.byPeerName.get(peer.ifname) : undefined;
      return {
        index: vf.index,
        pci: vf.pci,
        driver: vf.driver,
        netdev: end && vf.driver !== null && vf.driver !== 'vfio-pci' ? end.ifname : null,
        representor: pf.mode === 'switchdev' && peer ? peer.ifname : null,
        knobs: { ...vf.knobs },
      };
    });
  }
  return v;
}
