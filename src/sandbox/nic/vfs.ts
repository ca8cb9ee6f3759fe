import { nicNames } from '../names.js';
import { hardwareChecksums } from './host-ethtool.js';
import { vfPci } from './pci.js';
import { DEFAULT_KNOBS, type NicState, type PfRec, type VfRec } from './state.js';
import { syncNow } from './sync.js';

// ---- VF creation and removal (sriov_numvfs) ----

/**
 * n VFs of a PF: each a PCI function in the tree plus a veth pair (the VF end, and its
 * representor in switchdev or its partner on the PF's bridge in legacy).
 */
export async function createVfs(nic: NicState, pf: PfRec, n: number): Promise<void> {
  const { cfg, identity, tree } = nic;
  // The attribute is final before any VF appears: the kernel never rewrites it afterwards,
  // and a late rewrite here would clobber a write made once the VFs were seen.
  await tree.writeAttr(pf.pci, 'sriov_numvfs', String(n));
  const batch: string[][] = [];
  const newVfs: { rec: Omit<VfRec, 'peerIfindex'>; vfName: string; peerName: string }[] = [];
  for (let m = 0; m < n; m++) {
    const pci = vfPci(cfg.bus, identity, pf, m);
    const iommuGroup = nic.nextIommuGroup++;
    await tree.createFunction(pci, {
      vendor: identity.vendor,
      device: identity.vfDevice,
      numa: pf.numa,
      iommuGroup,
    });
    await tree.linkVf(pf.pci, m, pci);
    const vfName = nicNames.vf(cfg.id, pf.index, m);
    const peerName =
      pf.mode === 'switchdev'
        ? nicNames.representor(cfg.id, pf.index, m)
        : nicNames.legacyPeer(cfg.id, pf.index, m);
    batch.push(['link', 'add', vfName, 'type', 'veth', 'peer', 'name', peerName]);
    if (pf.mode === 'legacy') {
      batch.push(['link', 'set', peerName, 'master', pf.bridge], ['link', 'set', peerName, 'up']);
    }
    const driver = cfg.autoprobe ? identity.vfDriver : null;
    const uverbs = identity.rdma ? nic.nextUverbs++ : null;
    newVfs.push({
      rec: { index: m, pci, iommuGroup, driver, knobs: { ...DEFAULT_KNOBS }, uverbs },
      vfName,
      peerName,
    });
  }
  await nic.ip.batch(nic.host, batch);
  await hardwareChecksums(
    nic,
    newVfs.flatMap((v) => [v.vfName, v.peerName]),
  );
  const links = await nic.hostLinks();
  const toLimbo: string[][] = [];
  for (const v of newVfs) {
    const peer = links.byName.get(v.peerName);
    if (!peer) throw new Error(`veth ${v.peerName} missing after creation`);
    pf.vfs.push({ ...v.rec, peerIfindex: peer.ifindex });
    await tree.setDriver(v.rec.pci, v.rec.driver);
    // A VF probed by its driver at creation has its RDMA device from the start.
    if (v.rec.driver === identity.vfDriver) await tree.setRdma(v.rec.pci, v.rec.uverbs);
    if (v.rec.driver === null) toLimbo.push(['link', 'set', v.vfName, 'netns', nic.limbo.name]);
  }
  if (toLimbo.length > 0) await nic.ip.batch(nic.host, toLimbo);
  pf.numVfs = n;
}

/** All VFs of a PF: deleting one end of each pair takes the other with it, wherever it is. */
export async function removeVfs(nic: NicState, pf: PfRec): Promise<void> {
  await nic.tree.writeAttr(pf.pci, 'sriov_numvfs', '0');
  const links = await nic.hostLinks();
  const del: string[][] = [];
  for (const vf of pf.vfs) {
    const peer = links.byIndex.get(vf.peerIfindex);
    if (peer) del.push(['link', 'del', peer.ifname]);
    pf.tcOffload.delete(vf.peerIfindex);
  }
  if (del.length > 0) await nic.ip.batch(nic.host, del);
  for (const vf of pf.vfs) {
    await nic.tree.unlinkVf(pf.pci, vf.index);
    await nic.tree.removeFunction(vf.pci, vf.iommuGroup);
  }
  pf.vfs = [];
  pf.numVfs = 0;
}

/** The kernel's sriov_numvfs_store(): 0→N creates, N→0 removes, N→M (both non-zero) is EBUSY. */
export async function onNumVfsWrite(nic: NicState, pf: PfRec): Promise<void> {
  const text = (await nic.tree.readAttr(pf.pci, 'sriov_numvfs')) ?? '';
  // writeFile truncates before it writes: an empty file is a write in flight, not a value
  // (the kernel's store sees the whole write at once).
  if (text === String(pf.numVfs) || text === '') return;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  const argv = ['write', `${pf.pci}/sriov_numvfs`, text];
  let refusal: string | null = null;
  if (!Number.isInteger(n)) refusal = 'EINVAL';
  else if (n > pf.totalVfs) refusal = 'ERANGE';
  else if (n !== 0 && pf.numVfs !== 0) refusal = 'EBUSY';
  if (refusal !== null) {
    await nic.tree.writeAttr(pf.pci, 'sriov_numvfs', String(pf.numVfs));
    nic.calls.record('sysfs', argv, 1, `refused: ${refusal} (numvfs stays ${pf.numVfs})`);
    return;
  }
  if (n === 0) await removeVfs(nic, pf);
  else await createVfs(nic, pf, n);
  nic.calls.record('sysfs', argv, 0);
  await syncNow(nic);
}
