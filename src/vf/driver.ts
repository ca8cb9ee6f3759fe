import {
  assertPciAddress,
  errorMessage,
  InvalidInputError,
  NotFoundError,
  OvsOffloadError,
  pollUntil,
  TimeoutError,
  type SysFs,
} from '../sys/index.js';
import { USERSPACE_DRIVERS } from './numvfs.js';
import { driverOverride } from './parse.js';
import type { NicContext } from './types.js';

export const BIND_TIMEOUT_MS = 30_000;

export interface BindOptions {
  timeoutMs?: number;
  /** Wait for the VF's netdev after binding a network driver (default true). */
  waitNetdev?: boolean;
}

const dev = (pci: string, rel: string) => `bus/pci/devices/${pci}/${rel}`;

/** A kernel module name as it appears under bus/pci/drivers (so it is safe in a path). */
export function assertDriverName(driver: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(driver)) {
    throw new InvalidInputError('driver', `${JSON.stringify(driver)} is not a driver name`);
  }
  return driver;
}

async function assertVf(sysfs: SysFs, vfPci: string): Promise<string> {
  const pci = assertPciAddress(vfPci, 'VF');
  if (!(await sysfs.lexists(`bus/pci/devices/${pci}`))) {
    throw new NotFoundError(`VF ${pci}`, {
      message: `find VF ${pci}: no such PCI device in ${sysfs.path('bus/pci/devices')}`,
    });
  }
  if ((await sysfs.linkName(dev(pci, 'physfn'))) === null) {
    throw new InvalidInputError('VF', `${pci} is not a VF (it has no physfn link)`);
  }
  return pci;
}

async function write(sysfs: SysFs, rel: string, value: string, what: string): Promise<void> {
  try {
    await sysfs.write(rel, value);
  } catch (err) {
    throw new OvsOffloadError(`${what}: ${errorMessage(err)}`, { cause: err });
  }
}

async function waitFor(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const ok = await pollUntil(async () => ((await probe()) ? true : undefined), {
    timeoutMs,
    intervalMs: 10,
  });
  if (!ok) throw new TimeoutError(what, timeoutMs);
}

/**
 * Unbinds the VF from its driver and waits until the kernel says so. Returns the driver it
 * had (null when it had none: nothing to do, nothing to undo).
 */
export async function unbindDriver(
  ctx: NicContext,
  vfPci: string,
  opts: { timeoutMs?: number } = {},
): Promise<string | null> {
  const pci = await assertVf(ctx.sysfs, vfPci);
  const driver = await ctx.sysfs.linkName(dev(pci, 'driver'));
  if (driver === null) return null;
  ctx.logger?.debug({ vf: pci, driver }, 'unbinding VF driver');
  await write(
    ctx.sysfs,
    `bus/pci/drivers/${driver}/unbind`,
    pci,
    `unbind VF ${pci} from ${driver}`,
  );
  await waitFor(
    `unbind VF ${pci} from ${driver}`,
    opts.timeoutMs ?? BIND_TIMEOUT_MS,
    async () => (await ctx.sysfs.linkName(dev(pci, 'driver'))) === null,
  );
  return driver;
}

/**
 * Binds the VF to `driver` (moving it off another driver first) and waits for the effect:
 * the `driver` link, then, for a network driver, the VF's netdev. A user-space driver
 * (vfio-pci) is named in `driver_override` first: it has no ID table for the VF, and the
 * override also keeps a later reprobe from handing the VF back to the network driver. A
 * stale override naming another driver would make the kernel refuse the bind, so it is
 * cleared; on failure the override is put back as it was.
 */
export async function bindDriver(
  ctx: NicContext,
  vfPci: string,
  driver: string,
  opts: BindOptions = {},
): Promise<void> {
  const pci = await assertVf(ctx.sysfs, vfPci);
  assertDriverName(driver);
  if (!(await ctx.sysfs.isDirectory(`bus/pci/drivers/${driver}`))) {
    throw new NotFoundError(`driver ${driver}`, {
      message: `bind VF ${pci} to ${driver}: the driver is not loaded (no ${ctx.sysfs.path(`bus/pci/drivers/${driver}`)}; modprobe ${driver})`,
    });
  }
  const timeoutMs = opts.timeoutMs ?? BIND_TIMEOUT_MS;
  const current = await ctx.sysfs.linkName(dev(pci, 'driver'));
  if (current !== driver) {
    if (current !== null) await unbindDriver(ctx, pci, { timeoutMs });
    const override = driverOverride(await ctx.sysfs.readOrNull(dev(pci, 'driver_override')));
    const want = USERSPACE_DRIVERS.has(driver) ? driver : null;
    const setOverride = async (v: string | null) =>
      write(ctx.sysfs, dev(pci, 'driver_override'), v ?? '\n', `set driver_override of ${pci}`);
    const changeOverride = override !== want && (want !== null || override !== driver);
    if (changeOverride) await setOverride(want);
    try {
      ctx.logger?.debug({ vf: pci, driver }, 'binding VF driver');
      await write(ctx.sysfs, `bus/pci/drivers/${driver}/bind`, pci, `bind VF ${pci} to ${driver}`);
      await waitFor(
        `bind VF ${pci} to ${driver}`,
        timeoutMs,
        async () => (await ctx.sysfs.linkName(dev(pci, 'driver'))) === driver,
      );
    } catch (err) {
      if (changeOverride) await setOverride(override).catch(() => undefined);
      throw err;
    }
  }
  if (!USERSPACE_DRIVERS.has(driver) && opts.waitNetdev !== false) {
    await waitFor(
      `wait for the netdev of VF ${pci} (${driver})`,
      timeoutMs,
      async () => (await ctx.sysfs.listOrEmpty(dev(pci, 'net'))).length > 0,
    );
  }
}

/**
 * Asks the kernel to bind whichever driver matches the VF (`drivers_probe`, honouring
 * driver_override), as sriov_drivers_autoprobe does at creation; resolves with the driver.
 */
export async function probeDriver(
  ctx: NicContext,
  vfPci: string,
  opts: { timeoutMs?: number } = {},
): Promise<string> {
  const pci = await assertVf(ctx.sysfs, vfPci);
  const current = await ctx.sysfs.linkName(dev(pci, 'driver'));
  if (current !== null) return current;
  await write(ctx.sysfs, 'bus/pci/drivers_probe', pci, `probe a driver for VF ${pci}`);
  let bound: string | null = null;
  await waitFor(`probe a driver for VF ${pci}`, opts.timeoutMs ?? BIND_TIMEOUT_MS, async () => {
    bound = await ctx.sysfs.linkName(dev(pci, 'driver'));
    return bound !== null;
  });
  return bound ?? '';
}
