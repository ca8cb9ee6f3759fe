import { nicNames } from '../names.js';
import type { NicState } from './state.js';
import { syncNow } from './sync.js';

// ---- eswitch mode (devlink) ----

/**
 * `devlink dev eswitch set pci/<pci> mode <mode>`: null when done, else why it was refused
 * (an armed fault first, then the identity's own rule). Switchdev turns each VF's partner
 * end into its representor; legacy hangs it back on the PF's bridge.
 */
export async function setMode(
  nic: NicState,
  pci: string,
  mode: 'legacy' | 'switchdev',
): Promise<string | null> {
  const pf = nic.pfs.find((p) => p.pci === pci);
  if (!pf) return 'No such device';
  if (pf.mode === mode) return null;
  const vfsExist = pf.vfs.length > 0;
  const vfsBound = pf.vfs.some((v) => v.driver !== null && v.driver !== 'vfio-pci');
  const f = nic.fault.refuseMode;
  if (f && f.mode === mode) {
    const hit =
      f.when === 'always' ||
      (f.when === 'vfsExist' && vfsExist) ||
      (f.when === 'vfsBound' && vfsBound) ||
      (f.when === 'noVfs' && !vfsExist);
    if (hit) {
      if (f.times !== undefined) {
        if (f.times <= 1) delete nic.fault.refuseMode;
        else f.times--;
      }
      return (
        f.message ?? `${nic.identity.pfDriver}: firmware refused eswitch mode ${mode} in this state`
      );
    }
  }
  const rule = nic.identity.modeChangeRefusedWhen;
  if ((rule === 'vfsExist' && vfsExist) || (rule === 'vfsBound' && vfsBound))
    return nic.identity.refusalMessage;

  const links = await nic.hostLinks();
  const batch: string[][] = [];
  for (const vf of pf.vfs) {
    const peer = links.byIndex.get(vf.peerIfindex);
    if (!peer) continue;
    if (mode === 'switchdev') {
      batch.push(
        ['link', 'set', peer.ifname, 'down'],
        ['link', 'set', peer.ifname, 'nomaster'],
        ['link', 'set', peer.ifname, 'name', nicNames.representor(nic.cfg.id, pf.index, vf.index)],
      );
    } else {
      const name = nicNames.legacyPeer(nic.cfg.id, pf.index, vf.index);
      batch.push(
        ['link', 'set', peer.ifname, 'down'],
        ['link', 'set', peer.ifname, 'name', name],
        ['link', 'set', name, 'master', pf.bridge],
      );
      // A VF set to link_state disable stays down across the mode change.
      if (vf.knobs.linkState !== 'disable') batch.push(['link', 'set', name, 'up']);
    }
    pf.tcOffload.delete(vf.peerIfindex);
  }
  if (batch.length > 0) await nic.ip.batch(nic.host, batch);
  pf.mode = mode;
  await syncNow(nic);
  return null;
}
