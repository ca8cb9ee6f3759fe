import { sleep } from '../../sys/index.js';
import { nicNames } from '../names.js';
import { hardwareChecksums } from './host-ethtool.js';
import { listLinks } from './links.js';
import type { NicState, PfRec, VfRec } from './state.js';
import { syncNow } from './sync.js';

// ---- pod netns destruction: a real VF comes home, a veth pair dies ----

/** A VF whose pair died with a netns, and what is known of its netdev there. */
interface Lost {
  pf: PfRec;
  vf: VfRec;
  /** Its name in the dead netns; null when that netns was never seen (an unnamed one). */
  name: string | null;
  mac: string | undefined;
  mtu: number | undefined;
}

/**
 * Deletes a pod netns of this sandbox and re-creates the pair of every VF that was in it,
 * as hardware returns a VF's netdev to the host netns. Returns the names the VFs came back
 * under.
 */
export async function destroyPodNetns(nic: NicState, netns: string): Promise<string[]> {
  const { cfg } = nic;
  if (!netns.includes(`-${cfg.id}`))
    throw new Error(`${netns} is not a netns of sandbox ${cfg.id}`);
  const podLinks = await listLinks(nic.ip, { name: netns }).catch(() => null);
  const inPod: Lost[] = [];
  for (const pf of nic.pfs) {
    for (const vf of pf.vfs) {
      const l = podLinks?.links.find((x) => x.link_index === vf.peerIfindex);
      if (l) inPod.push({ pf, vf, name: l.ifname, mac: l.address, mtu: l.mtu });
    }
  }
  await nic.runner.run([cfg.realIp, 'netns', 'delete', netns]);
  // Netns teardown runs in a kernel workqueue: wait until the pairs are really gone.
  for (let i = 0; i < 200; i++) {
    const links = await nic.hostLinks();
    if (inPod.every((p) => !links.byIndex.has(p.vf.peerIfindex))) break;
    await sleep(25);
  }
  const returned: string[] = [];
  for (const p of inPod) returned.push(await recreatePair(nic, p));
  await syncNow(nic);
  return returned;
}

/**
 * Brings home every VF whose pair is gone from the host netns. A VF's partner end lives in
 * the host for as long as the VF exists (an unbound VF's netdev waits in limbo, not deleted),
 * so a missing one means its VF end sat in a netns that died: one this sandbox never named,
 * as a container runtime's (containerd and `ctr` hand CNI `/proc/<pid>/ns/net` or their own
 * bind-mount pins, and the netns dies with the last process and pin). The kernel deletes a
 * veth pair there, where it would return a real VF's netdev to the host. Runs in the serial
 * queue, after a link event or a poll; returns the names the VFs came back under.
 */
export async function returnOrphanedVfs(nic: NicState): Promise<string[]> {
  const missing = async (): Promise<Set<VfRec>> => {
    const links = await nic.hostLinks();
    const out = new Set<VfRec>();
    for (const pf of nic.pfs) {
      // Only a VF with a netdev driver has a netdev a netns could take; an unbound or vfio VF's
      // pair stays in the host (its VF end in limbo).
      for (const vf of pf.vfs) {
        if (vf.driver !== null && vf.driver !== 'vfio-pci' && !links.byIndex.has(vf.peerIfindex))
          out.add(vf);
      }
    }
    return out;
  };
  const first = await missing();
  if (first.size === 0) return [];
  // A link dump that raced a change elsewhere in the netns (OVS adding its ports, say) can be
  // interrupted and short: only a pair missing from two dumps, 50 ms apart, is really gone.
  await sleep(50);
  const second = await missing();
  const lost: Lost[] = [];
  for (const pf of nic.pfs) {
    for (const vf of pf.vfs) {
      if (first.has(vf) && second.has(vf))
        lost.push({ pf, vf, name: null, mac: undefined, mtu: undefined });
    }
  }
  if (lost.length === 0) return [];
  const returned: string[] = [];
  for (const p of lost) returned.push(await recreatePair(nic, p));
  await syncNow(nic);
  return returned;
}

/** The VF's netdev back in the host with a fresh partner end, named as the kernel would. */
async function recreatePair(nic: NicState, p: Lost): Promise<string> {
  const { cfg } = nic;
  const host = await nic.hostLinks();
  const peerName =
    p.pf.mode === 'switchdev'
      ? nicNames.representor(cfg.id, p.pf.index, p.vf.index)
      : nicNames.legacyPeer(cfg.id, p.pf.index, p.vf.index);
  const tmp = `oret${p.vf.peerIfindex}`.slice(0, 15);
  await nic.hostIp(['link', 'add', tmp, 'type', 'veth', 'peer', 'name', peerName]);
  const after = await nic.hostLinks();
  const end = after.byName.get(tmp);
  const peer = after.byName.get(peerName);
  if (!end || !peer) throw new Error(`re-create VF ${p.vf.pci}: veth missing`);
  // default_device_exit_net(): keep the in-netns name unless taken, else "dev<ifindex>". A
  // netns the emulator never saw inside leaves the name unknown: it comes back as if taken.
  const name = p.name === null || host.byName.has(p.name) ? `dev${end.ifindex}` : p.name;
  const setup: string[][] = [['link', 'set', tmp, 'name', name]];
  if (p.mac) setup.push(['link', 'set', name, 'address', p.mac]);
  if (p.mtu) setup.push(['link', 'set', name, 'mtu', String(p.mtu)]);
  // The VF's administrative link state (legacy knob) survives: the eswitch side stays down.
  if (p.pf.mode === 'legacy') {
    setup.push(['link', 'set', peerName, 'master', p.pf.bridge]);
    if (p.vf.knobs.linkState !== 'disable') setup.push(['link', 'set', peerName, 'up']);
  }
  await nic.ip.batch(nic.host, setup);
  await hardwareChecksums(nic, [name, peerName]);
  // A real representor is never re-created, so it keeps its features (hw-tc-offload).
  const tc = p.pf.tcOffload.get(p.vf.peerIfindex);
  p.pf.tcOffload.delete(p.vf.peerIfindex);
  if (tc !== undefined) p.pf.tcOffload.set(peer.ifindex, tc);
  p.vf.peerIfindex = peer.ifindex;
  return name;
}
