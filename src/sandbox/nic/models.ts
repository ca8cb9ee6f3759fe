import type { DevlinkModel } from './devlink.js';
import { setMode } from './eswitch.js';
import type { EthtoolModel } from './ethtool.js';
import type { IpVfModel } from './ipvf.js';
import type { LinkTable } from './links.js';
import type { NicState } from './state.js';

// ---- models for the stand-ins: the NIC as devlink, ip and ethtool see it ----

export function devlinkModel(nic: NicState, links: LinkTable): DevlinkModel {
  return {
    pfs: () =>
      nic.pfs.map((pf) => ({
        pci: pf.pci,
        index: pf.index,
        mode: pf.mode,
        uplink: pf.uplink,
        reps:
          pf.mode === 'switchdev'
            ? pf.vfs.flatMap((vf) => {
                const peer = links.byIndex.get(vf.peerIfindex);
                return peer ? [{ vf: vf.index, netdev: peer.ifname, mac: vf.knobs.mac }] : [];
              })
            : [],
      })),
    setMode: (pci, mode) => setMode(nic, pci, mode),
    setHwAddr: async (pci, n, mac) => {
      const vf = nic.pfs.find((p) => p.pci === pci)?.vfs[n];
      if (vf) vf.knobs = { ...vf.knobs, mac };
    },
    garbage: () => nic.fault.devlinkGarbage,
  };
}

export function ipModel(nic: NicState): IpVfModel {
  return {
    pf: (netdev) => {
      const pf = nic.pfs.find((p) => p.uplink === netdev);
      return pf ? { mode: pf.mode, numVfs: pf.numVfs } : undefined;
    },
    knobs: (netdev, vf) => nic.pfs.find((p) => p.uplink === netdev)?.vfs[vf]?.knobs,
    apply: async (netdev, n, next) => {
      const pf = nic.pfs.find((p) => p.uplink === netdev);
      const vf = pf?.vfs[n];
      if (!pf || !vf) return;
      const prev = vf.knobs;
      vf.knobs = next;
      // link_state disable forces the VF's link down: the eswitch side of its pair goes down.
      if (pf.mode === 'legacy' && prev.linkState !== next.linkState) {
        const links = await nic.hostLinks();
        const peer = links.byIndex.get(vf.peerIfindex);
        if (peer)
          await nic.hostIp([
            'link',
            'set',
            peer.ifname,
            next.linkState === 'disable' ? 'down' : 'up',
          ]);
      }
    },
  };
}

export function ethtoolModel(nic: NicState, links: LinkTable): EthtoolModel {
  const find = (name: string) => {
    const l = links.byName.get(name);
    if (!l) return undefined;
    for (const pf of nic.pfs) {
      if (pf.uplink === name) return { pf, ifindex: l.ifindex, driver: nic.identity.pfDriver };
      if (pf.mode === 'switchdev' && pf.vfs.some((v) => v.peerIfindex === l.ifindex)) {
        return { pf, ifindex: l.ifindex, driver: nic.identity.repDriver };
      }
    }
    return undefined;
  };
  return {
    netdev: (name) => {
      const f = find(name);
      return f
        ? {
            driver: f.driver,
            busInfo: f.pf.pci,
            hwTcOffload: f.pf.tcOffload.get(f.ifindex) ?? false,
          }
        : undefined;
    },
    setHwTcOffload: (name, on) => {
      const f = find(name);
      if (!f) return false;
      const refuse = nic.fault.refuseHwTcOffload ?? [];
      if (on && (refuse.includes('*') || refuse.includes(name))) return false;
      f.pf.tcOffload.set(f.ifindex, on);
      return true;
    },
  };
}
