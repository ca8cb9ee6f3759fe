import * as path from 'node:path';
import { files } from '../../sys/index.js';
import { nicNames } from '../names.js';
import { listLinks, type LinkTable } from './links.js';
import type { NicState, VfRec } from './state.js';
import { syncNow } from './sync.js';

// ---- driver bind/unbind (bus/pci/drivers/*/bind|unbind, drivers_probe) ----

/**
 * Acts on a write to `drivers/<driver>/bind|unbind` or to `drivers_probe` (driver '') the
 * way the kernel's bind_store/unbind_store/drivers_probe_store do, for emulated VFs only.
 */
export async function onDriverFile(
  nic: NicState,
  driver: string,
  file: 'bind' | 'unbind' | 'probe',
): Promise<void> {
  const { identity, tree } = nic;
  const p =
    file === 'probe'
      ? path.join(tree.sys, 'bus/pci/drivers_probe')
      : path.join(tree.sys, `bus/pci/drivers/${driver}/${file}`);
  const text = ((await files.readTextOrNull(p)) ?? '').trim();
  if (text === '') return;
  await files.writeText(p, '');
  const argv = ['write', file === 'probe' ? 'drivers_probe' : `drivers/${driver}/${file}`, text];
  const hit = nic.findVf(text);
  if (!hit) {
    nic.calls.record('sysfs', argv, 1, 'refused: ENODEV (not an emulated VF)');
    return;
  }
  const { vf } = hit;
  if (file === 'unbind') {
    if (vf.driver !== driver) {
      nic.calls.record('sysfs', argv, 1, 'refused: ENODEV (not bound to this driver)');
      return;
    }
    await unbind(nic, vf);
  } else {
    const override = (await tree.readAttr(vf.pci, 'driver_override')) ?? '(null)';
    const want =
      file === 'probe'
        ? override !== '(null)' && override !== ''
          ? override
          : identity.vfDriver
        : driver;
    if (vf.driver !== null) {
      nic.calls.record('sysfs', argv, 1, 'refused: EBUSY (already bound)');
      return;
    }
    if (override !== '(null)' && override !== '' && override !== want) {
      nic.calls.record('sysfs', argv, 1, `refused: driver_override is ${override}`);
      return;
    }
    if (want !== identity.vfDriver && want !== 'vfio-pci') {
      nic.calls.record(
        'sysfs',
        argv,
        1,
        `refused: ${want} does not drive ${identity.vendor}:${identity.vfDevice}`,
      );
      return;
    }
    await bind(nic, vf, want);
  }
  nic.calls.record('sysfs', argv, 0);
  await syncNow(nic);
}

/** Where the VF end of a pair is now: the host, a pod netns, or limbo. */
async function locateVfEnd(
  nic: NicState,
  vf: VfRec,
  links: LinkTable,
): Promise<{ ns: { name: string }; ifname: string } | null> {
  const peer = links.byIndex.get(vf.peerIfindex);
  if (!peer) return null;
  const inHost = links.byPeerName.get(peer.ifname);
  if (inHost) return { ns: nic.host, ifname: inHost.ifname };
  const ns = await nic.runner.run([nic.cfg.realIp, 'netns', 'list']);
  const names = ns.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.includes(`-${nic.cfg.id}`) && n !== nic.host.name);
  for (const name of names) {
    const t = await listLinks(nic.ip, { name }).catch(() => null);
    const l = t?.links.find((x) => x.link_index === vf.peerIfindex);
    if (l) return { ns: { name }, ifname: l.ifname };
  }
  return null;
}

async function unbind(nic: NicState, vf: VfRec): Promise<void> {
  const links = await nic.hostLinks();
  const where = await locateVfEnd(nic, vf, links);
  if (where && where.ns.name !== nic.limbo.name) {
    // Unbinding destroys the netdev wherever it is; hide it so nothing can use it.
    await nic.ip.run(where.ns, ['link', 'set', where.ifname, 'down']);
    await nic.ip.run(where.ns, ['link', 'set', where.ifname, 'netns', nic.limbo.name]);
  }
  vf.driver = null;
  await nic.tree.setDriver(vf.pci, null);
  await nic.tree.setRdma(vf.pci, null);
}

async function bind(nic: NicState, vf: VfRec, driver: string): Promise<void> {
  vf.driver = driver;
  await nic.tree.setDriver(vf.pci, driver);
  if (driver === 'vfio-pci') return;
  await nic.tree.setRdma(vf.pci, vf.uverbs);
  // A freshly probed netdev gets the driver's name; ours is the VF's default name.
  const hit = nic.findVf(vf.pci);
  const limboLinks = await listLinks(nic.ip, nic.limbo);
  const hostLinks = await nic.hostLinks();
  const end = limboLinks.links.find((l) => l.link_index === vf.peerIfindex);
  if (!end || !hit) return;
  const want = nicNames.vf(nic.cfg.id, hit.pf.index, vf.index);
  const name = hostLinks.byName.has(want) ? `tmp${vf.peerIfindex}` : want;
  await nic.ip.run(nic.limbo, ['link', 'set', end.ifname, 'netns', nic.host.name, 'name', name]);
}
