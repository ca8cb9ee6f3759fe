import {
  constants,
  createReadStream,
  readdirSync,
  readFileSync,
  readlinkSync,
  watch,
  writeFileSync,
  type FSWatcher,
} from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { errnoCode, NotFoundError, OvsOffloadError } from './errors.js';

/** Errors that mean "this attribute/file is not there for this device" when reading sysfs. */
// ESRCH: a /proc/<pid> file of a process that exited while we read it.
const ABSENT_CODES = new Set([
  'ENOENT',
  'ENOTDIR',
  'EOPNOTSUPP',
  'ENODEV',
  'EINVAL',
  'ENXIO',
  'ESRCH',
]);

function wrap(verb: string, p: string, err: unknown): Error {
  const code = errnoCode(err);
  if (code === 'ENOENT' || code === 'ENOTDIR') return new NotFoundError(p, { cause: err });
  return new OvsOffloadError(`${verb} ${p}: ${code ?? String(err)}`, { cause: err });
}

export interface Watcher {
  close(): void;
}

/**
 * Plain file access for the layers that keep files of their own (state dir, sandbox tree,
 * sockets). Every method takes absolute paths; errors are typed (NotFoundError for ENOENT).
 */
export class Files {
  async readText(p: string): Promise<string> {
    try {
      return await fsp.readFile(p, 'utf8');
    } catch (err) {
      throw wrap('read', p, err);
    }
  }

  /** null when the file is absent (or the kernel refuses the read as "not for this device"). */
  async readTextOrNull(p: string): Promise<string | null> {
    try {
      return await fsp.readFile(p, 'utf8');
    } catch (err) {
      if (ABSENT_CODES.has(errnoCode(err) ?? '')) return null;
      throw wrap('read', p, err);
    }
  }

  /**
   * readTextOrNull without the event loop's thread pool: for attributes the kernel generates
   * in memory (sysfs), read often. An async readFile is four pool round trips (open, fstat,
   * read, close); a 4 Hz poll made of them was most of an idle agent's CPU.
   */
  readTextOrNullSync(p: string): string | null {
    try {
      return readFileSync(p, 'utf8');
    } catch (err) {
      if (ABSENT_CODES.has(errnoCode(err) ?? '')) return null;
      throw wrap('read', p, err);
    }
  }

  /**
   * A file's bytes as a stream of chunks, for inputs too large to hold (a dump-flows
   * capture of a million flows). Errors (ENOENT, EISDIR, EACCES) surface on iteration, typed.
   */
  async *readChunks(p: string): AsyncGenerator<Buffer> {
    const stream = createReadStream(p);
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } catch (err) {
      throw wrap('read', p, err);
    } finally {
      stream.destroy();
    }
  }

  /**
   * The last `maxBytes` of a file (all of it when smaller), for logs that grow without bound
   * (ovs-vswitchd.log): never reads more than the bound. `truncated` says the head was cut;
   * the first, partial line is then dropped so every line returned is whole.
   */
  async readTail(p: string, maxBytes: number): Promise<{ text: string; truncated: boolean }> {
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(p, 'r');
      const size = (await fh.stat()).size;
      const start = Math.max(0, size - maxBytes);
      const buf = Buffer.alloc(size - start);
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      let text = buf.subarray(0, got).toString('utf8');
      if (start > 0) {
        const nl = text.indexOf('\n');
        text = nl < 0 ? '' : text.slice(nl + 1);
      }
      return { text, truncated: start > 0 };
    } catch (err) {
      throw wrap('read', p, err);
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }

  async writeText(p: string, data: string): Promise<void> {
    try {
      await fsp.writeFile(p, data);
    } catch (err) {
      throw wrap('write', p, err);
    }
  }

  /**
   * Synchronous write, for a few bytes on a tmpfs on a latency-critical path (the device
   * plugin's Allocate writes Multus device-info files under /var/run): ~10 µs, where the
   * promise API needs three thread-pool round trips that queue behind other I/O.
   */
  writeTextSync(p: string, data: string): void {
    try {
      writeFileSync(p, data);
    } catch (err) {
      throw wrap('write', p, err);
    }
  }

  /** Write then rename, so a reader (or a crash) never sees half a file. */
  async writeAtomic(p: string, data: string, mode = 0o600, fsync = true): Promise<void> {
    const tmp = `${p}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    try {
      const fh = await fsp.open(tmp, 'w', mode);
      try {
        await fh.writeFile(data);
        if (fsync) await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(tmp, p);
    } catch (err) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      throw wrap('write', p, err);
    }
  }

  async mkdir(p: string, mode?: number): Promise<void> {
    try {
      await fsp.mkdir(p, { recursive: true, ...(mode === undefined ? {} : { mode }) });
    } catch (err) {
      throw wrap('mkdir', p, err);
    }
  }

  async mkdtemp(prefix: string): Promise<string> {
    return fsp.mkdtemp(prefix);
  }

  async rm(p: string, opts: { recursive?: boolean } = {}): Promise<void> {
    try {
      await fsp.rm(p, { force: true, recursive: opts.recursive ?? false });
    } catch (err) {
      throw wrap('remove', p, err);
    }
  }

  async readdir(p: string): Promise<string[]> {
    try {
      return await fsp.readdir(p);
    } catch (err) {
      throw wrap('list', p, err);
    }
  }

  async readdirOrEmpty(p: string): Promise<string[]> {
    try {
      return await fsp.readdir(p);
    } catch (err) {
      if (ABSENT_CODES.has(errnoCode(err) ?? '')) return [];
      throw wrap('list', p, err);
    }
  }

  /** readdirOrEmpty without the thread pool (see readTextOrNullSync): for sysfs directories. */
  readdirOrEmptySync(p: string): string[] {
    try {
      return readdirSync(p);
    } catch (err) {
      if (ABSENT_CODES.has(errnoCode(err) ?? '')) return [];
      throw wrap('list', p, err);
    }
  }

  async readlink(p: string): Promise<string> {
    try {
      return await fsp.readlink(p);
    } catch (err) {
      throw wrap('readlink', p, err);
    }
  }

  /** readlinkOrNull without the thread pool (see readTextOrNullSync): for sysfs links. */
  readlinkOrNullSync(p: string): string | null {
    try {
      return readlinkSync(p);
    } catch (err) {
      if (ABSENT_CODES.has(errnoCode(err) ?? '')) return null;
      throw wrap('readlink', p, err);
    }
  }

  async readlinkOrNull(p: string): Promise<string | null> {
    try {
      return await fsp.readlink(p);
    } catch (err) {
      if (ABSENT_CODES.has(errnoCode(err) ?? '')) return null;
      throw wrap('readlink', p, err);
    }
  }

  async realpath(p: string): Promise<string> {
    try {
      return await fsp.realpath(p);
    } catch (err) {
      throw wrap('resolve', p, err);
    }
  }

  /** Create (or replace) a symlink at `p` pointing to `target`. */
  async symlink(target: string, p: string): Promise<void> {
    try {
      await fsp.rm(p, { force: true });
      await fsp.symlink(target, p);
    } catch (err) {
      throw wrap('symlink', p, err);
    }
  }

  async rename(from: string, to: string): Promise<void> {
    try {
      await fsp.rename(from, to);
    } catch (err) {
      throw wrap('rename', from, err);
    }
  }

  async exists(p: string): Promise<boolean> {
    try {
      await fsp.access(p, constants.F_OK);
      return true;
    } catch {
      return false;
    }
  }

  /** lstat-based: true for a symlink even when its target is gone. */
  async lexists(p: string): Promise<boolean> {
    try {
      await fsp.lstat(p);
      return true;
    } catch {
      return false;
    }
  }

  async isDirectory(p: string): Promise<boolean> {
    try {
      return (await fsp.stat(p)).isDirectory();
    } catch {
      return false;
    }
  }

  async isSocket(p: string): Promise<boolean> {
    try {
      return (await fsp.lstat(p)).isSocket();
    } catch {
      return false;
    }
  }

  /** Inode + change time: tells a recreated file (kubelet.sock after a restart) from the old one. */
  async identity(p: string): Promise<string | null> {
    try {
      const s = await fsp.lstat(p);
      return `${s.dev}:${s.ino}:${s.ctimeMs}`;
    } catch {
      return null;
    }
  }

  async chmod(p: string, mode: number): Promise<void> {
    try {
      await fsp.chmod(p, mode);
    } catch (err) {
      throw wrap('chmod', p, err);
    }
  }

  async copyFile(from: string, to: string, mode?: number): Promise<void> {
    try {
      await fsp.copyFile(from, to);
      if (mode !== undefined) await fsp.chmod(to, mode);
    } catch (err) {
      throw wrap('copy', from, err);
    }
  }

  /**
   * inotify watch on a file or directory. Events are hints only (coalesced, may be lost):
   * callers must re-read the state they care about.
   */
  watch(p: string, onChange: (filename: string | null) => void): Watcher {
    let w: FSWatcher;
    try {
      w = watch(p, { persistent: false }, (_event, filename) => onChange(filename));
    } catch (err) {
      throw wrap('watch', p, err);
    }
    w.on('error', () => undefined);
    return { close: () => w.close() };
  }

  join(...parts: string[]): string {
    return path.join(...parts);
  }
}

export const files = new Files();
