import { PortNotOwnedError } from '../../ovs/errors.js';
import type { Vswitch } from '../../ovs/vswitch.js';
import {
  errorMessage,
  netnsFromPath,
  pollUntil,
  type CommandRunner,
  type Ip,
  type Logger,
} from '../../sys/index.js';
import { applyVfKnobs, setVfAdminMac } from '../../vf/index.js';
import { isTransient } from '../cni-errors.js';
import { TransientError } from '../errors.js';
import { IpamPluginMissingError, runIpam } from '../ipam.js';
import type { NicCache } from '../nic-cache.js';
import { findVfLink, moveHome, netnsExists, renameAtHome } from '../podnet.js';
import type { AttachmentState } from '../state.js';
import { ATTACHMENT_KEY, attachmentKey, takeDownPort } from './keys.js';

export interface TeardownDeps {
  vswitch: Vswitch;
  nics: NicCache;
  ip: Ip;
  runner: CommandRunner;
  logger: Logger;
}

export interface TeardownOptions {
  /** The netns the DEL names (IPAM gets it); the state file's is used for the VF. */
  requestNetns?: string;
  /**
   * false: this ADD's IPAM call never returned a lease (it failed or never ran), so there is
   * nothing to release. Unknown (a state file from before a crash): release to be sure.
   */
  ipamAdded?: boolean;
  /** Filled with ms per step (the chains run side by side: each step's own duration). */
  steps?: Record<string, number>;
}

/** Runs fn and records its duration under `name` when `steps` is given. */
async function timed<T>(
  steps: Record<string, number> | undefined,
  name: string,
  fn: () => Promise<T>,
): Promise<T> {
  if (!steps) return fn();
  const t0 = process.hrtime.bigint();
  try {
    return await fn();
  } finally {
    steps[name] = Math.round(Number(process.hrtime.bigint() - t0) / 1e3) / 1e3;
  }
}

/**
 * Undoes an attachment from its state file alone, whatever stage it reached: it is DEL,
 * the undo of a failed ADD, and the start-up cleanup of one interrupted by a crash.
 *
 * Three independent chains run side by side (the VF's way home waits ~20 ms on the kernel
 * for the netns change): the VF home under its original name; the representor down, then
 * off the bridge (never off before down: no traffic to a port OVS no longer knows); IPAM
 * released. Every chain runs to its end. A step whose resource is gone is done. A failure
 * that retrying cures by itself (OVSDB reconnecting, a plugin timing out) is thrown as
 * TransientError once all chains ran: the caller keeps the state and retries. Any other
 * failure is logged and returned: it will never succeed, and keeping the state for it would
 * refuse the VF to every later pod.
 */
export async function teardown(
  d: TeardownDeps,
  s: AttachmentState,
  opts: TeardownOptions = {},
): Promise<string[]> {
  const log = d.logger.child({
    containerID: s.containerID,
    ifName: s.ifName,
    pod: `${s.pod.namespace}/${s.pod.name}`,
  });
  const chains: [string, () => Promise<void>][] = [
    [
      'VF',
      async () => {
        await timed(opts.steps, 'vf-home', () => returnVf(d, s, log));
        await timed(opts.steps, 'vf-knobs', () => restoreKnobs(d, s, log));
        await timed(opts.steps, 'vf-mac', () => restoreAdminMac(d, s, log));
      },
    ],
    ['representor', () => timed(opts.steps, 'port', () => releasePort(d, s, log))],
    ['IPAM', () => timed(opts.steps, 'ipam', () => releaseLease(d, s, opts))],
  ];
  const results = await Promise.allSettled(chains.map(([, run]) => run()));
  const transient: unknown[] = [];
  const problems: string[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') return;
    if (isTransient(r.reason)) transient.push(r.reason);
    else problems.push(`${chains[i]?.[0] ?? '?'}: ${errorMessage(r.reason)}`);
  });
  for (const p of problems) log.warn({ problem: p }, 'undo step failed for good; released anyway');
  if (transient.length > 0) {
    throw new TransientError(
      `undo ${attachmentKey(s.containerID, s.ifName)}: ${transient.map(errorMessage).join('; ')}`,
      '',
      { cause: transient[0] },
    );
  }
  return problems;
}

async function releasePort(d: TeardownDeps, s: AttachmentState, log: Logger): Promise<void> {
  if (!s.representor) return;
  // Only the port this attachment created: a failed ADD that met another pod's port (or a
  // port of another tool) must not take it down with it.
  const key = attachmentKey(s.containerID, s.ifName);
  const mine = await d.vswitch.findInterfacesByExternalId(ATTACHMENT_KEY, key);
  const port = mine.find((i) => i.name === s.representor);
  if (!port) return;
  try {
    await takeDownPort(d, s.representor, port.type);
  } catch (err) {
    if (!(err instanceof PortNotOwnedError)) throw err;
    log.warn({ port: s.representor }, 'port not owned by us left alone');
    return;
  }
  await restoreRepresentorMtu(d, s, s.representor, log);
}

/**
 * The mtu_request went with the port, but ovs-vswitchd leaves the netdev at the MTU it set:
 * back to what it was, on the representor sysfs still lists under the PF (a name udev took
 * meanwhile is not ours to change).
 */
async function restoreRepresentorMtu(
  d: TeardownDeps,
  s: AttachmentState,
  rep: string,
  log: Logger,
): Promise<void> {
  const before = s.representorMtuBefore;
  if (before === undefined) return;
  const now = await d.nics.netdevFacts(s.vf.pfPci, rep);
  if (now.mtu === null || now.mtu === before) return;
  await bestEffort(log, `could not restore the MTU of representor ${rep}`, () =>
    d.ip.run(null, ['link', 'set', 'dev', rep, 'mtu', String(before)]),
  );
}

/**
 * Offload mode: the VF's administrative MAC back to what it was before ADD (Kube-OVN writes
 * 00:00:00:00:00:00 in deleteNic, what a fresh VF has; we write what the VF had).
 */
async function restoreAdminMac(d: TeardownDeps, s: AttachmentState, log: Logger): Promise<void> {
  const before = s.vf.adminMacBefore;
  if (s.mode !== 'offload' || before === undefined) return;
  const target = { pfPci: s.vf.pfPci, pfNetdev: s.vf.pfNetdev, vfIndex: s.vf.vfIndex };
  await bestEffort(log, 'could not restore the VF administrative MAC', () =>
    setVfAdminMac(d.ip, d.runner, target, before),
  );
}

async function releaseLease(
  d: TeardownDeps,
  s: AttachmentState,
  opts: TeardownOptions,
): Promise<void> {
  if (!s.ipam || opts.ipamAdded === false) return;
  const netns = opts.requestNetns || s.netns;
  try {
    await runIpam(d.runner, {
      command: 'DEL',
      containerID: s.containerID,
      netns: (await netnsExists(netns)) ? netns : '',
      ifName: s.ifName,
      cniArgs: s.ipam.cniArgs,
      path: s.ipam.path,
      config: s.ipam.config,
    });
  } catch (err) {
    // A plugin that is not there holds no lease to release.
    if (err instanceof IpamPluginMissingError) return;
    throw err;
  }
}

/** Brings the VF netdev home under its original name, wherever it is now. */
async function returnVf(d: TeardownDeps, s: AttachmentState, log: Logger): Promise<void> {
  const home = s.vf.originalName;
  if (home === null) return; // vfio-pci: nothing was moved
  const restore = { mac: s.vf.originalMac, mtu: s.vf.originalMtu };
  if (await netnsExists(s.netns)) {
    // Whatever the pod calls it now (the rename after the move may have failed, or the pod
    // renamed it), the VF is the link whose PCI parent is ours; a pod link that merely has
    // our ifName, MAC or ifindex is never touched.
    const link = await findVfLink(d.ip, d.runner, netnsFromPath(s.netns), s.vf.pci);
    if (link) {
      await moveHome(d.ip, s.netns, link.ifname, home, restore);
      return waitForHostName(d, s.vf.pci, home, log);
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
    // Not in the pod, not at home (still on its way back, or unbound): nothing of ours to
    // undo on it. The next ADD resolves the VF by PCI address, under whatever name it has.
    log.warn({ vf: s.vf.pci }, 'VF netdev not found on the host; released');
    return;
  }
  const facts = await d.nics.netdevFacts(s.vf.pci, current);
  if (!(
    current === home &&
    facts &&
    facts.mac === s.vf.originalMac &&
    facts.mtu === s.vf.originalMtu
  )) {
    await renameAtHome(d.ip, current, home, restore);
    await waitForHostName(d, s.vf.pci, home, log);
  }
}

async function restoreKnobs(d: TeardownDeps, s: AttachmentState, log: Logger): Promise<void> {
  const { knobsBefore } = s;
  const { pfNetdev } = s.vf;
  if (s.mode !== 'legacy' || !knobsBefore || !pfNetdev) return;
  await bestEffort(log, 'could not restore VF settings', () =>
    applyVfKnobs(d.ip, pfNetdev, s.vf.vfIndex, knobsBefore),
  );
}

/**
 * A restore step that only puts a setting back: a transient failure is thrown (the undo is
 * retried), any other is logged, since it must not keep the VF from the next pod.
 */
async function bestEffort(log: Logger, what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (isTransient(err)) throw err;
    log.warn({ err: errorMessage(err) }, what);
  }
}

/**
 * sysfs shows the VF under its original name again before we call it home (udev may
 * still be acting on the move). Not seeing it is no failure: the name is the kernel's now.
 */
async function waitForHostName(
  d: TeardownDeps,
  pci: string,
  name: string,
  log: Logger,
): Promise<void> {
  const seen = await pollUntil(
    async () => ((await d.nics.vfNetdev(pci)) === name ? true : undefined),
    { timeoutMs: 2000, intervalMs: 5 },
  );
  if (!seen) log.warn({ vf: pci, name }, 'VF home but sysfs does not show its name yet');
}
