import * as path from 'node:path';
import { files, type Files } from './files.js';
import { assertRelativePath } from './validate.js';

/**
 * Read/write access to a sysfs tree rooted at `sysfsRoot`, the folder that CONTAINS `sys/`
 * (`/` on a node, a temp tree in tests). Every path is relative to `<sysfsRoot>/sys`.
 */
export class SysFs {
  readonly root: string;
  private readonly sysDir: string;

  constructor(
    sysfsRoot: string,
    private readonly fs: Files = files,
  ) {
    this.root = path.resolve(sysfsRoot);
    this.sysDir = path.join(this.root, 'sys');
  }

  /** Absolute path of `rel` (e.g. `bus/pci/devices/0000:03:00.0/vendor`). */
  path(rel: string): string {
    return path.join(this.sysDir, assertRelativePath(rel));
  }

  /** Attribute text without the trailing newline; NotFoundError when absent. */
  async read(rel: string): Promise<string> {
    return (await this.fs.readText(this.path(rel))).replace(/\n$/, '');
  }

  /**
   * Attribute text, or null when the kernel says it is not there for this device (ENOENT,
   * EOPNOTSUPP: e.g. `phys_port_name` of a VF netdev, EINVAL: `phys_switch_id` of a
   * device with no switch).
   */
  async readOrNull(rel: string): Promise<string | null> {
    const t = await this.fs.readTextOrNull(this.path(rel));
    return t === null ? null : t.replace(/\n$/, '');
  }

  /**
   * readOrNull, synchronously: sysfs attributes are generated in memory and read in
   * microseconds, cheaper than the thread-pool round trips of an async read. For frequent
   * polls of a few attributes, never for reads that may wait on a device (firmware queries).
   */
  readOrNullSync(rel: string): string | null {
    const t = this.fs.readTextOrNullSync(this.path(rel));
    return t === null ? null : t.replace(/\n$/, '');
  }

  /** listOrEmpty, synchronously (see readOrNullSync). */
  listOrEmptySync(rel: string): string[] {
    return this.fs.readdirOrEmptySync(this.path(rel));
  }

  async write(rel: string, value: string): Promise<void> {
    await this.fs.writeText(this.path(rel), value);
  }

  async list(rel: string): Promise<string[]> {
    return this.fs.readdir(this.path(rel));
  }

  async listOrEmpty(rel: string): Promise<string[]> {
    return this.fs.readdirOrEmpty(this.path(rel));
  }

  async readlink(rel: string): Promise<string> {
    return this.fs.readlink(this.path(rel));
  }

  /** Basename of a symlink's target (`driver` → `mlx5_core`, `virtfn3` → `0000:03:00.5`). */
  /** linkName, synchronously (see readOrNullSync). */
  linkNameSync(rel: string): string | null {
    const t = this.fs.readlinkOrNullSync(this.path(rel));
    return t === null ? null : path.basename(t);
  }

  async linkName(rel: string): Promise<string | null> {
    const t = await this.fs.readlinkOrNull(this.path(rel));
    return t === null ? null : path.basename(t);
  }

  async exists(rel: string): Promise<boolean> {
    return this.fs.exists(this.path(rel));
  }

  async lexists(rel: string): Promise<boolean> {
    return this.fs.lexists(this.path(rel));
  }

  async isDirectory(rel: string): Promise<boolean> {
    return this.fs.isDirectory(this.path(rel));
  }
}
