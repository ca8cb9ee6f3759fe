import {
  assertPciAddress,
  CommandError,
  errorMessage,
  NotFoundError,
  OvsOffloadError,
  type SysFs,
} from '../sys/index.js';
import {
  askDevlink,
  eswitchShowArgs,
  parseEswitchShow,
  type EswitchMode,
  type EswitchState,
  type NicContext,
} from '../vf/index.js';

/** A mode change re-creates every representor and the uplink netdev: it can take a while. */
const ESWITCH_SET_TIMEOUT_MS = 120_000;

async function assertPci(sysfs: SysFs, pfPci: string): Promise<string> {
  const pci = assertPciAddress(pfPci, 'PF');
  if (!(await sysfs.lexists(`bus/pci/devices/${pci}`))) {
    throw new NotFoundError(`PF ${pci}`, {
      message: `find PF ${pci}: no such PCI device in ${sysfs.path('bus/pci/devices')}`,
    });
  }
  return pci;
}

/** `devlink -j dev eswitch show pci/<pf>`, with switchdev_inactive told apart. */
export async function readEswitch(ctx: NicContext, pfPci: string): Promise<EswitchState> {
  const pci = await assertPci(ctx.sysfs, pfPci);
  return parseEswitchShow(pci, await askDevlink(ctx.runner, eswitchShowArgs(pci)));
}

/** "legacy" when devlink has no answer for the PF (not a devlink device, no eswitch ops). */
export async function getEswitchMode(ctx: NicContext, pfPci: string): Promise<EswitchMode> {
  return (await readEswitch(ctx, pfPci)).mode;
}

/** `devlink dev eswitch set pci/<pf> mode <mode>`; the driver's refusal is in the error. */
export async function setEswitchMode(
  ctx: NicContext,
  pfPci: string,
  mode: EswitchMode,
): Promise<void> {
  const pci = await assertPci(ctx.sysfs, pfPci);
  const argv = ['devlink', 'dev', 'eswitch', 'set', `pci/${pci}`, 'mode', mode];
  ctx.logger?.info({ pf: pci, mode }, 'setting eswitch mode');
  try {
    await ctx.runner.run(argv, { timeoutMs: ESWITCH_SET_TIMEOUT_MS });
  } catch (err) {
    const why =
      err instanceof CommandError && err.stderr.trim()
        ? err.stderr.trim().split('\n').join(' | ')
        : errorMessage(err);
    throw new OvsOffloadError(`set eswitch mode of pci/${pci} to ${mode}: ${why}`, { cause: err });
  }
}
