import { findVfRepresentor, mapRepresentors } from '../representor/index.js';
import {
  errorMessage,
  InvalidInputError,
  isPciAddress,
  NotFoundError,
  type Logger,
} from '../sys/index.js';
import {
  parsePhysPortName,
  readPf,
  resolvePfPci,
  type PfEswitchMode,
  type NicContext,
  type PfInfo,
} from '../vf/index.js';
import type { NicPolicy } from './config.js';

/** A VF as the CNI path needs it, resolved from its PCI address. */
export interface ResolvedVf {
  pci: string;
  pfPci: string;
  vfIndex: number;
  /** The PF netdev VF knobs go through (legacy), or the uplink (switchdev). */
  pfNetdev: string | null;
  eswitchMode: PfEswitchMode;
  driver: string | null;
  /** The VF's netdev on the host now (null: in a pod, unbound, or vfio-pci). */
  netdev: string | null;
  legacyPortNames: boolean;
}

interface PfEntry {
  policy: NicPolicy;
  info: PfInfo;
  vfIndexByPci: Map<string, number>;
  representors: Map<number, string> | null;
}

/**
 * What the agent knows of the PFs it manages (`nics[]`), so a pod start costs a few sysfs
 * reads instead of a devlink call: devlink facts (eswitch mode, representor names) are read
 * at refresh and each cached representor is re-checked against sysfs before use.
 */
export class NicCache {
  private readonly pfs = new Map<string, PfEntry>();

  constructor(
    private readonly ctx: NicContext,
    private readonly policies: readonly NicPolicy[],
    private readonly logger: Logger,
  ) {}

  /** PCI addresses of the managed PFs found on this node. */
  managed(): string[] {
    return [...this.pfs.keys()].sort();
  }

  pf(pci: string): PfInfo | undefined {
    return this.pfs.get(pci)?.info;
  }

  /** The `nics[]` policy a managed PF was resolved from. */
  policyOf(pci: string): NicPolicy | undefined {
    return this.pfs.get(pci)?.policy;
  }

  /** sriov_numvfs of a PCI function (null: no such device, or not SR-IOV capable). */
  async numVfs(pci: string): Promise<number | null> {
    const t = await this.ctx.sysfs.readOrNull(`bus/pci/devices/${pci}/sriov_numvfs`);
    return t !== null && /^\d+$/.test(t.trim()) ? Number(t.trim()) : null;
  }

  /** Re-reads every managed PF (start-up, after NIC reconcile, on a cache miss). */
  async refresh(): Promise<void> {
    for (const policy of this.policies) {
      const ref = policy.pci ?? policy.pf ?? '';
      try {
        await this.refreshPf(await resolvePfPci(this.ctx.sysfs, ref), policy);
      } catch (err) {
        this.logger.warn({ pf: ref, err: errorMessage(err) }, 'managed PF not usable now');
      }
    }
  }

  private async refreshPf(pci: string, policy: NicPolicy): Promise<PfEntry> {
    const info = await readPf(this.ctx, pci, { legacyPortNames: policy.legacyPortNames });
    const entry: PfEntry = {
      policy,
      info,
      vfIndexByPci: new Map(info.vfs.map((v) => [v.pci, v.vfIndex])),
      representors: new Map(
        info.vfs.flatMap((v) => (v.representor ? [[v.vfIndex, v.representor] as const] : [])),
      ),
    };
    this.pfs.set(pci, entry);
    return entry;
  }

  /**
   * The VF behind a CNI deviceID. Errors name what is wrong: not a PCI address, not a VF, a
   * VF of a PF this agent does not manage.
   */
  async resolveVf(deviceId: string): Promise<ResolvedVf> {
    if (!isPciAddress(deviceId)) {
      throw new InvalidInputError('deviceID', `${JSON.stringify(deviceId)} is not a PCI address`);
    }
    const pci = deviceId.toLowerCase();
    const sysfs = this.ctx.sysfs;
    if (!(await sysfs.lexists(`bus/pci/devices/${pci}`))) {
      throw new NotFoundError(`VF ${pci}`, { message: `deviceID ${pci}: no such PCI device` });
    }
    const pfPci = await sysfs.linkName(`bus/pci/devices/${pci}/physfn`);
    if (pfPci === null)
      throw new InvalidInputError('deviceID', `${pci} is not a VF (it has no physfn)`);
    let entry = this.pfs.get(pfPci);
    if (!entry) {
      await this.refresh();
      entry = this.pfs.get(pfPci);
      if (!entry) {
        throw new InvalidInputError(
          'deviceID',
          `${pci} is a VF of ${pfPci}, which is not in this agent's nics[]`,
        );
      }
    }
    let vfIndex = entry.vfIndexByPci.get(pci);
    if (vfIndex === undefined) {
      // sriov_numvfs changed since the last read.
      entry = await this.refreshPf(pfPci, entry.policy);
      vfIndex = entry.vfIndexByPci.get(pci);
      if (vfIndex === undefined)
        throw new NotFoundError(`VF ${pci}`, {
          message: `deviceID ${pci}: not a virtfn of ${pfPci}`,
        });
    }
    const [driver, netdevs] = await Promise.all([
      sysfs.linkName(`bus/pci/devices/${pci}/driver`),
      sysfs.listOrEmpty(`bus/pci/devices/${pci}/net`),
    ]);
    return {
      pci,
      pfPci,
      vfIndex,
      pfNetdev: entry.info.netdev,
      eswitchMode: entry.info.eswitchMode,
      driver,
      netdev: netdevs.length > 0 ? (netdevs.sort()[0] ?? null) : null,
      legacyPortNames: entry.policy.legacyPortNames,
    };
  }

  /** MAC and MTU of a VF's host netdev, from sysfs (no `ip` fork on the pod-start path). */
  async netdevFacts(
    pci: string,
    name: string,
  ): Promise<{ mac: string | null; mtu: number | null }> {
    const dir = `bus/pci/devices/${pci}/net/${name}`;
    const [mac, mtu] = await Promise.all([
      this.ctx.sysfs.readOrNull(`${dir}/address`),
      this.ctx.sysfs.readOrNull(`${dir}/mtu`),
    ]);
    return { mac: mac?.trim() || null, mtu: mtu && /^\d+$/.test(mtu.trim()) ? Number(mtu) : null };
  }

  /** The current host netdev of a VF (after it came home under another name). */
  async vfNetdev(pci: string): Promise<string | null> {
    const names = await this.ctx.sysfs.listOrEmpty(`bus/pci/devices/${pci}/net`);
    return names.sort()[0] ?? null;
  }

  /**
   * The VF's representor. The cached name is trusted only if sysfs still shows it under the
   * PF with this VF's phys_port_name (udev or a mode change may have renamed it).
   */
  async representor(vf: ResolvedVf): Promise<string> {
    const entry = this.pfs.get(vf.pfPci);
    const cached = entry?.representors?.get(vf.vfIndex);
    if (cached && (await this.stillRepresents(vf, cached))) return cached;
    let name: string | null;
    try {
      const map = await mapRepresentors(this.ctx, vf.pfPci, {
        legacyPortNames: vf.legacyPortNames,
      });
      if (entry) entry.representors = map;
      name = map.get(vf.vfIndex) ?? null;
    } catch (err) {
      this.logger.debug(
        { pf: vf.pfPci, err: errorMessage(err) },
        'representor map failed; asking for the one VF',
      );
      name = await findVfRepresentor(this.ctx, vf.pfPci, vf.vfIndex, {
        legacyPortNames: vf.legacyPortNames,
      });
    }
    if (name === null) {
      throw new NotFoundError(`representor of VF ${vf.pci}`, {
        message: `find representor of VF ${vf.vfIndex} (${vf.pci}) of ${vf.pfPci}: none (is the eswitch in switchdev mode?)`,
      });
    }
    return name;
  }

  private async stillRepresents(vf: ResolvedVf, name: string): Promise<boolean> {
    const ppn = await this.ctx.sysfs.readOrNull(
      `bus/pci/devices/${vf.pfPci}/net/${name}/phys_port_name`,
    );
    if (ppn === null) return false;
    const p = parsePhysPortName(ppn);
    if (p.kind === 'vf')
      return p.vf === vf.vfIndex && (p.controller === null || p.controller === 0);
    return p.kind === 'legacyVf' && vf.legacyPortNames && p.vf === vf.vfIndex;
  }
}
