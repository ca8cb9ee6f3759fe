import * as path from 'node:path';
import { files } from '../../sys/index.js';
import { nicNames } from '../names.js';
import { pfPci, sriovOffset } from './pci.js';
import type { NicState, PfRec } from './state.js';
import { createVfs } from './vfs.js';

/**
 * Start-up: the sysfs tree with its bus and driver files, then each PF of the config as a
 * PCI function with its SR-IOV attributes, its uplink and the VFs it starts with.
 */
export async function createPfs(nic: NicState): Promise<void> {
  const { cfg, identity, tree } = nic;
  await files.mkdir(cfg.dir);
  await tree.init([identity.pfDriver, identity.vfDriver]);
  await files.writeText(path.join(tree.sys, 'bus/pci/drivers_probe'), '');
  await files.writeText(
    path.join(tree.sys, 'bus/pci/drivers_autoprobe'),
    cfg.autoprobe ? '1\n' : '0\n',
  );
  for (const [index, spec] of cfg.pfs.entries()) {
    const pf: PfRec = {
      index,
      pci: pfPci(cfg.bus, index),
      uplink: nicNames.uplink(cfg.id, index),
      wire: nicNames.wire(cfg.id, index),
      bridge: nicNames.legacyBridge(cfg.id, index),
      totalVfs: spec.totalVfs,
      numa: spec.numa,
      mode: cfg.eswitchMode,
      vfs: [],
      numVfs: 0,
      tcOffload: new Map(),
    };
    nic.pfs.push(pf);
    await tree.createFunction(pf.pci, {
      vendor: identity.vendor,
      device: identity.pfDevice,
      numa: pf.numa,
      iommuGroup: nic.nextIommuGroup++,
    });
    await tree.writeAttr(pf.pci, 'sriov_totalvfs', String(pf.totalVfs));
    await tree.writeAttr(pf.pci, 'sriov_numvfs', '0');
    await tree.writeAttr(pf.pci, 'sriov_offset', String(sriovOffset(identity, pf)));
    await tree.writeAttr(pf.pci, 'sriov_stride', String(identity.vfStride));
    await tree.writeAttr(pf.pci, 'sriov_vf_device', identity.vfDevice);
    await tree.writeAttr(pf.pci, 'sriov_drivers_autoprobe', cfg.autoprobe ? '1' : '0');
    await tree.setDriver(pf.pci, identity.pfDriver);
    // The uplink and the "wire" behind the physical port: a veth pair, both up, so the
    // uplink has carrier until a test pulls the cable (`ip link set <wire> down`).
    await nic.ip.batch(nic.host, [
      ['link', 'add', pf.uplink, 'type', 'veth', 'peer', 'name', pf.wire],
      ['link', 'add', pf.bridge, 'type', 'bridge'],
      ['link', 'set', pf.bridge, 'up'],
      ['link', 'set', pf.wire, 'up'],
      ['link', 'set', pf.uplink, 'up'],
    ]);
    if (spec.numVfs > 0) await createVfs(nic, pf, spec.numVfs);
  }
}
