import {
  assertPciAddress,
  errorMessage,
  InvalidInputError,
  OvsOffloadError,
  pollUntil,
  TimeoutError,
  type SysFs,
} from '../sys/index.js';
import { uint } from './parse.js';
import { resolvePfPci } from './read.js';
import type { NicContext } from './types.js';
import { USERSPACE_DRIVERS } from './userspace.js';

export { USERSPACE_DRIVERS } from './userspace.js';

export const NUMVFS_TIMEOUT_MS = 120_000;
/**
 * With sriov_drivers_autoprobe on, the kernel probes each VF inside the sriov_numvfs write;
 * a VF still driverless this long after it appeared has no driver that wants it (iavf not
 * loaded, a blacklisted module): that is the host's choice, not a failure.
 */
const PROBE_GRACE_MS = 5_000;

export interface NumVfsOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

const dev = (pci: string, rel: string) => `bus/pci/devices/${pci}/${rel}`;

/**
 * Sets `sriov_numvfs` and waits until the kernel's work is visible: every `virtfnN` with its
 * `physfn` link back, each probed VF bound, and each VF with a network driver showing its
 * netdev (udev renames it later; the netdev is read from the VF's own net/, never guessed).
 * The kernel refuses N→M between non-zero counts (EBUSY), so 0 is written first.
 */
export async function setNumVfs(
  ctx: NicContext,
  pfPci: string,
  numVfs: number,
  opts: NumVfsOptions = {},
): Promise<void> {
  const pci = await resolvePfPci(ctx.sysfs, assertPciAddress(pfPci, 'PF'));
  const total = uint(await ctx.sysfs.readOrNull(dev(pci, 'sriov_totalvfs'))) ?? 0;
  if (typeof numVfs !== 'number' || !Number.isInteger(numVfs) || numVfs < 0) {
    throw new InvalidInputError('numVfs', `${JSON.stringify(numVfs)} is not a whole number`);
  }
  if (numVfs > total) {
    throw new InvalidInputError('numVfs', `${numVfs} is above sriov_totalvfs ${total} of ${pci}`);
  }
  const timeoutMs = opts.timeoutMs ?? NUMVFS_TIMEOUT_MS;
  const deadline = { at: Date.now() + timeoutMs, timeoutMs };
  const current = uint(await ctx.sysfs.readOrNull(dev(pci, 'sriov_numvfs'))) ?? 0;
  const log = ctx.logger?.child({ pf: pci });
  let wrote = false;
  if (current !== numVfs) {
    if (current !== 0 && numVfs !== 0) {
      log?.info({ from: current, to: numVfs }, 'removing VFs before changing their count');
      await writeNumVfs(ctx.sysfs, pci, 0);
      await waitForVfs(ctx, pci, 0, deadline, true, opts.signal);
    }
    log?.info({ from: numVfs === 0 ? current : 0, to: numVfs }, 'setting sriov_numvfs');
    await writeNumVfs(ctx.sysfs, pci, numVfs);
    wrote = true;
  }
  await waitForVfs(ctx, pci, numVfs, deadline, wrote, opts.signal);
}

async function writeNumVfs(sysfs: SysFs, pci: string, n: number): Promise<void> {
  try {
    await sysfs.write(dev(pci, 'sriov_numvfs'), String(n));
  } catch (err) {
    throw new OvsOffloadError(`set sriov_numvfs of ${pci} to ${n}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

interface VfProgress {
  ready: boolean;
  missing: string[];
}

async function vfProgress(
  sysfs: SysFs,
  pci: string,
  n: number,
  probeDeadline: number | null,
): Promise<VfProgress> {
  const missing: string[] = [];
  const numvfs = uint(await sysfs.readOrNull(dev(pci, 'sriov_numvfs')));
  if (numvfs !== n) missing.push(`sriov_numvfs reads ${numvfs ?? '?'}`);
  const links = (await sysfs.listOrEmpty(`bus/pci/devices/${pci}`)).filter((e) =>
    /^virtfn\d+$/.test(e),
  );
  if (links.length !== n) missing.push(`${links.length} of ${n} virtfn links`);
  for (let i = 0; i < n && missing.length < 4; i++) {
    const vf = await sysfs.linkName(dev(pci, `virtfn${i}`));
    if (vf === null) {
      missing.push(`virtfn${i}`);
      continue;
    }
    if ((await sysfs.linkName(dev(vf, 'physfn'))) !== pci) {
      missing.push(`physfn of ${vf}`);
      continue;
    }
    const driver = await sysfs.linkName(dev(vf, 'driver'));
    if (driver === null) {
      if (probeDeadline !== null && Date.now() < probeDeadline) missing.push(`driver of ${vf}`);
      continue;
    }
    if (USERSPACE_DRIVERS.has(driver)) continue;
    if ((await sysfs.listOrEmpty(dev(vf, 'net'))).length === 0) missing.push(`netdev of ${vf}`);
  }
  return { ready: missing.length === 0, missing };
}

async function waitForVfs(
  ctx: NicContext,
  pci: string,
  n: number,
  deadline: { at: number; timeoutMs: number },
  created: boolean,
  signal?: AbortSignal,
): Promise<void> {
  // Only VFs created just now may still be probing; older driverless VFs stay driverless.
  const autoprobe = (await ctx.sysfs.readOrNull(dev(pci, 'sriov_drivers_autoprobe')))?.trim();
  const probeDeadline = !created || autoprobe === '0' ? null : Date.now() + PROBE_GRACE_MS;
  let last: VfProgress = { ready: false, missing: [] };
  const timeoutMs = Math.max(0, deadline.at - Date.now());
  const done = await pollUntil(
    async () => {
      last = await vfProgress(ctx.sysfs, pci, n, probeDeadline);
      return last.ready ? true : undefined;
    },
    {
      timeoutMs,
      intervalMs: 20,
      ...(signal ? { signal } : {}),
      onWait: (ms) =>
        ctx.logger?.info(
          { pf: pci, numVfs: n, waitedMs: ms, missing: last.missing },
          'waiting for VFs',
        ),
    },
  );
  if (!done) {
    throw new TimeoutError(
      `wait for ${n} VFs of ${pci} (missing: ${last.missing.join(', ')})`,
      deadline.timeoutMs,
    );
  }
}
