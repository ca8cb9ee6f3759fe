import { isRetryable, PortNotOwnedError } from '../../ovs/errors.js';
import type { Vswitch } from '../../ovs/vswitch.js';
import { ATTACHMENT_KEY, attachmentKey, takeDownPort } from './keys.js';
import {
  errorMessage,
  type CommandRunner,
  type Ip,
  type Logger,
  pollUntil,
} from '../../sys/index.js';
import { applyVfKnobs } from '../../vf/index.js';
import { runIpam } from '../ipam.js';
import type { NicCache } from '../nic-cache.js';
import { moveHome, netnsExists, renameAtHome } from '../podnet.js';
import type { AttachmentState } from '../state.js';

export interface TeardownDeps {
  vswitch: Vswitch;
  nics: NicCache;
  ip: Ip;
  runner: CommandRunner;
  logger: Logger;
}

/**
 * Undoes an attachment from its state file alone, whatever stage it reached: it is DEL,
 * the undo of a failed ADD, and the start-up cleanup of one interrupted by a crash. Each
 * step treats "already gone" as done; a real failure stops here (the state file stays, so
 * the next DEL or restart continues).
 *
 * Three independent chains run side by side (the VF's way home waits ~20 ms on the kernel
 * for the netns change): the VF home under its original name; the representor down, then
 * off the bridge (never off before down: no traffic to a port OVS no longer knows); IPAM
 * released. Legacy VF settings are restored once the VF is home. Every chain runs to its
 * end before a failure is reported, so nothing is left half-undone.
 */
export async function teardown(
  d: TeardownDeps,
  s: AttachmentState,
  requestNetns?: string,
): Promise<void> {
  const log = d.logger.child({
    containerID: s.containerID,
    ifName: s.ifName,
    pod: `${s.pod.namespace}/${s.pod.name}`,
  });

  const vfChain = (async () => {
    await returnVf(d, s, log);
    if (s.mode === 'legacy' && s.knobsBefore && s.vf.pfNetdev) {
      try {
        await applyVfKnobs(d.ip, s.vf.pfNetdev, s.vf.vfIndex, s.knobsBefore);
      } catch (err) {
        if (isRetryable(err)) throw err;
        log.warn({ err: errorMessage(err) }, 'could not restore VF settings');
      }
    }
  })();

  const repChain = (async () => {
    if (!s.representor) return;
    // Only the port this attachment created: a failed ADD that met another pod's port (or a
    // port of another tool) must not take it down with it.
    const key = attachmentKey(s.containerID, s.ifName);
    const mine = await d.vswitch.findInterfacesByExternalId(ATTACHMENT_KEY, key);
    if (!mine.some((i) => i.name === s.representor)) return;
    try {
      await takeDownPort(d, s.representor);
    } catch (err) {
      if (!(err instanceof PortNotOwnedError)) throw err;
      log.warn({ port: s.representor }, 'port not owned by us left alone');
    }
  })();

  const ipamChain = (async () => {
    if (!s.ipam) return;
    const netns = requestNetns || s.netns;
    await runIpam(d.runner, {
      command: 'DEL',
      containerID: s.containerID,
      netns: (await netnsExists(netns)) ? netns : '',
      ifName: s.ifName,
      cniArgs: s.ipam.cniArgs,
      path: s.ipam.path,
      config: s.ipam.config,
    });
  })();

  const results = await Promise.allSettled([vfChain, repChain, ipamChain]);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Brings the VF netdev home under its original name, wherever it is now. */
async function returnVf(
  d: TeardownDeps,
  s: AttachmentState,
  log: TeardownDeps['logger'],
): Promise<void> {
  const home = s.vf.originalName;
  if (home === null) return; // vfio-pci: nothing was moved
  const restore = { mac: s.vf.originalMac, mtu: s.vf.originalMtu };
  if (await netnsExists(s.netns)) {
    // Straight to the move (no lookup first: one fork fewer); a pod without the interface
    // (ADD failed before the move, or someone removed it) answers "Cannot find device".
    try {
      await moveHome(d.ip, s.netns, s.ifName, home, restore);
      await waitForHostName(d, s.vf.pci, home);
      return;
    } catch (err) {
      if (!/Cannot find device|No such device/.test(errorMessage(err))) throw err;
    }
  }
  // The pod netns is gone (the kernel sent the VF back under its in-pod name, or dev<ifindex>
  // if that was taken) or the VF never left: find it by PCI address. Netns teardown runs in a
  // kernel workqueue, so give a just-deleted netns a moment to hand the VF back.
  const current = await pollUntil(async () => (await d.nics.vfNetdev(s.vf.pci)) ?? undefined, {
    timeoutMs: s.addCompleted ? 3000 : 200,
    intervalMs: 20,
  });
  if (current === undefined) {
    log.warn({ vf: s.vf.pci }, 'VF netdev not found on the host; nothing to rename');
    return;
  }
  const facts = await d.nics.netdevFacts(s.vf.pci, current);
  if (current === home && facts && facts.mac === s.vf.originalMac && facts.mtu === s.vf.originalMtu)
    return;
  await renameAtHome(d.ip, current, home, restore);
  await waitForHostName(d, s.vf.pci, home);
}

/**
 * sysfs shows the VF under its original name again before we call it home (udev may
 * still be acting on the move).
 */
async function waitForHostName(d: TeardownDeps, pci: string, name: string): Promise<void> {
  await pollUntil(async () => ((await d.nics.vfNetdev(pci)) === name ? true : undefined), {
    timeoutMs: 2000,
    intervalMs: 5,
  });
}
