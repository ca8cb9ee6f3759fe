import { mkdtemp, mkdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Backoff, InvalidInputError, NotFoundError, SysFs } from '../../../src/sys/index.js';

describe('SysFs', () => {
  it('reads attributes under <sysfsRoot>/sys, maps ENOENT to NotFoundError and refuses escapes', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'sysfs-'));
    const dev = path.join(root, 'sys/devices/pci0000:00/0000:03:00.0');
    await mkdir(path.join(root, 'sys/bus/pci/devices'), { recursive: true });
    await mkdir(dev, { recursive: true });
    await writeFile(path.join(dev, 'vendor'), '0x15b3\n');
    await symlink(
      '../../../devices/pci0000:00/0000:03:00.0',
      path.join(root, 'sys/bus/pci/devices/0000:03:00.0'),
    );
    const fs = new SysFs(root);
    expect(await fs.read('bus/pci/devices/0000:03:00.0/vendor')).toBe('0x15b3');
    expect(await fs.readOrNull('bus/pci/devices/0000:03:00.0/phys_port_name')).toBeNull();
    await expect(fs.read('bus/pci/devices/0000:03:00.0/device')).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect(await fs.linkName('bus/pci/devices/0000:03:00.0')).toBe('0000:03:00.0');
    expect(() => fs.path('../etc/passwd')).toThrow(InvalidInputError);
  });
});

describe('Backoff', () => {
  it('grows exponentially to its cap and resets', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000]);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('keeps jittered delays within [base·(1-j), base]', () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.5 });
    for (let i = 0; i < 50; i++) {
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });
});
