import * as path from 'node:path';
import { files } from '../../sys/index.js';

/**
 * Writes a sysfs tree shaped like the kernel's under `<root>/sys`:
 *   devices/pci0000:00/0000:00:03.0/<bdf>/{vendor,device,class,driver→,physfn→,virtfnN→,...}
 *   bus/pci/devices/<bdf> → ../../../devices/.../<bdf>
 *   bus/pci/drivers/<drv>/{bind,unbind,<bdf>→}
 *   class/net/<ifname> → ../../devices/.../<bdf>/net/<ifname>
 * Live netdev attributes are symlinks into a sysfs mounted from the sandbox host netns, so
 * `ip link set … down` shows through as it would on a node.
 */
export const ROOT_PORT = 'pci0000:00/0000:00:03.0';

export interface NetdevAttrs {
  physPortName?: string;
  physSwitchId?: string;
}

const LIVE_ATTRS = ['operstate', 'carrier', 'address', 'mtu', 'ifindex', 'flags', 'type'];

export class SysTree {
  readonly sys: string;

  constructor(
    readonly root: string,
    /** Where the host netns's own sysfs is mounted (live attributes point into it). */
    private readonly liveSys: string,
  ) {
    this.sys = path.join(root, 'sys');
  }

  private abs(rel: string): string {
    return path.join(this.sys, rel);
  }

  devRel(bdf: string): string {
    return `devices/${ROOT_PORT}/${bdf}`;
  }

  async init(drivers: readonly string[]): Promise<void> {
    for (const d of [
      `devices/${ROOT_PORT}`,
      'bus/pci/devices',
      'class/net',
      'kernel/iommu_groups',
    ]) {
      await files.mkdir(this.abs(d));
    }
    for (const drv of new Set([...drivers, 'vfio-pci'])) await this.ensureDriver(drv);
  }

  async ensureDriver(drv: string): Promise<void> {
    const dir = this.abs(`bus/pci/drivers/${drv}`);
    await files.mkdir(dir);
    for (const f of ['bind', 'unbind', 'new_id', 'remove_id']) {
      if (!(await files.exists(path.join(dir, f)))) await files.writeText(path.join(dir, f), '');
    }
  }

  async writeAttr(bdf: string, name: string, value: string): Promise<void> {
    await files.writeText(this.abs(`${this.devRel(bdf)}/${name}`), `${value}\n`);
  }

  async readAttr(bdf: string, name: string): Promise<string | null> {
    const t = await files.readTextOrNull(this.abs(`${this.devRel(bdf)}/${name}`));
    return t === null ? null : t.trim();
  }

  /** A PCI function directory with its identity files and bus link. */
  async createFunction(
    bdf: string,
    ids: { vendor: string; device: string; numa: number; iommuGroup: number },
  ): Promise<void> {
    const dev = this.devRel(bdf);
    await files.mkdir(this.abs(`${dev}/net`));
    await this.writeAttr(bdf, 'vendor', `0x${ids.vendor}`);
    await this.writeAttr(bdf, 'device', `0x${ids.device}`);
    await this.writeAttr(bdf, 'subsystem_vendor', `0x${ids.vendor}`);
    await this.writeAttr(bdf, 'class', '0x020000');
    await this.writeAttr(bdf, 'numa_node', String(ids.numa));
    await this.writeAttr(bdf, 'driver_override', '(null)');
    await files.symlink(`../../../${dev}`, this.abs(`bus/pci/devices/${bdf}`));
    const group = `kernel/iommu_groups/${ids.iommuGroup}`;
    await files.mkdir(this.abs(`${group}/devices`));
    await files.symlink(`../../../../${dev}`, this.abs(`${group}/devices/${bdf}`));
    await files.symlink(
      `../../../../kernel/iommu_groups/${ids.iommuGroup}`,
      this.abs(`${dev}/iommu_group`),
    );
  }

  async removeFunction(bdf: string, iommuGroup: number): Promise<void> {
    await this.setDriver(bdf, null);
    for (const name of await this.listNetdevs(bdf)) await this.removeNetdev(bdf, name);
    await files.rm(this.abs(`bus/pci/devices/${bdf}`));
    await files.rm(this.abs(`kernel/iommu_groups/${iommuGroup}`), { recursive: true });
    await files.rm(this.abs(this.devRel(bdf)), { recursive: true });
  }

  async linkVf(pfBdf: string, index: number, vfBdf: string): Promise<void> {
    await files.symlink(`../${vfBdf}`, this.abs(`${this.devRel(pfBdf)}/virtfn${index}`));
    await files.symlink(`../${pfBdf}`, this.abs(`${this.devRel(vfBdf)}/physfn`));
  }

  async unlinkVf(pfBdf: string, index: number): Promise<void> {
    await files.rm(this.abs(`${this.devRel(pfBdf)}/virtfn${index}`));
  }

  async driverOf(bdf: string): Promise<string | null> {
    const t = await files.readlinkOrNull(this.abs(`${this.devRel(bdf)}/driver`));
    return t === null ? null : path.basename(t);
  }

  async setDriver(bdf: string, driver: string | null): Promise<void> {
    const old = await this.driverOf(bdf);
    if (old !== null) {
      await files.rm(this.abs(`bus/pci/drivers/${old}/${bdf}`));
      await files.rm(this.abs(`${this.devRel(bdf)}/driver`));
    }
    if (driver !== null) {
      await this.ensureDriver(driver);
      await files.symlink(
        `../../../../bus/pci/drivers/${driver}`,
        this.abs(`${this.devRel(bdf)}/driver`),
      );
      await files.symlink(
        `../../../../${this.devRel(bdf)}`,
        this.abs(`bus/pci/drivers/${driver}/${bdf}`),
      );
    }
  }

  /** RDMA char devices of a function (`infiniband_verbs/uverbsN`), for isRdma selectors. */
  async setRdma(bdf: string, uverbs: number | null): Promise<void> {
    const dir = this.abs(`${this.devRel(bdf)}/infiniband_verbs`);
    await files.rm(dir, { recursive: true });
    await files.rm(this.abs(`${this.devRel(bdf)}/infiniband`), { recursive: true });
    if (uverbs === null) return;
    await files.mkdir(path.join(dir, `uverbs${uverbs}`));
    await files.writeText(path.join(dir, `uverbs${uverbs}`, 'ibdev'), `mlx5_${uverbs}\n`);
    await files.mkdir(this.abs(`${this.devRel(bdf)}/infiniband/mlx5_${uverbs}`));
  }

  async listNetdevs(bdf: string): Promise<string[]> {
    return files.readdirOrEmpty(this.abs(`${this.devRel(bdf)}/net`));
  }

  async addNetdev(bdf: string, ifname: string, attrs: NetdevAttrs): Promise<void> {
    const dir = `${this.devRel(bdf)}/net/${ifname}`;
    await files.mkdir(this.abs(dir));
    for (const a of LIVE_ATTRS) {
      await files.symlink(path.join(this.liveSys, 'class/net', ifname, a), this.abs(`${dir}/${a}`));
    }
    await files.symlink('../../../' + bdf, this.abs(`${dir}/device`));
    await files.symlink('../../../../../../class/net', this.abs(`${dir}/subsystem`));
    await this.setNetdevAttrs(bdf, ifname, attrs);
    await files.symlink(`../../${dir}`, this.abs(`class/net/${ifname}`));
  }

  /** phys_port_name / phys_switch_id: absent files read as EOPNOTSUPP would (no value). */
  async setNetdevAttrs(bdf: string, ifname: string, attrs: NetdevAttrs): Promise<void> {
    const dir = this.abs(`${this.devRel(bdf)}/net/${ifname}`);
    for (const [file, v] of [
      ['phys_port_name', attrs.physPortName],
      ['phys_switch_id', attrs.physSwitchId],
    ] as const) {
      if (v === undefined) await files.rm(path.join(dir, file));
      else await files.writeText(path.join(dir, file), `${v}\n`);
    }
  }

  async readNetdevAttrs(bdf: string, ifname: string): Promise<NetdevAttrs> {
    const dir = this.abs(`${this.devRel(bdf)}/net/${ifname}`);
    const ppn = await files.readTextOrNull(path.join(dir, 'phys_port_name'));
    const sw = await files.readTextOrNull(path.join(dir, 'phys_switch_id'));
    return {
      ...(ppn === null ? {} : { physPortName: ppn.trim() }),
      ...(sw === null ? {} : { physSwitchId: sw.trim() }),
    };
  }

  async removeNetdev(bdf: string, ifname: string): Promise<void> {
    const link = this.abs(`class/net/${ifname}`);
    const target = await files.readlinkOrNull(link);
    if (target?.includes(`/${bdf}/net/${ifname}`)) await files.rm(link);
    await files.rm(this.abs(`${this.devRel(bdf)}/net/${ifname}`), { recursive: true });
  }
}
