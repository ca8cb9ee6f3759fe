import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { readdir, readlink } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { eventually, newNode } from '../helpers/sandbox.js';

/**
 * Container runtimes hand CNI a netns the sandbox never named (`/proc/<pid>/ns/net`, or a
 * bind-mount pin of their own): when it dies, the emulated VF must still come home, as the
 * kernel returns a real VF's netdev to the host netns.
 */
describe('emulated NIC: a VF in an unnamed netns', () => {
  it('comes home (dev<ifindex>, representor kept on its PF) when the last process of that netns exits', async () => {
    const { sb, nic } = await newNode({ nic: { vfsPerPf: 2 } });
    const pf = (await nic.state()).pfs[0]!;
    const vf = pf.vfs[1]!;
    // A netns held only by a process, as a pod's is by its pause process.
    const holder = spawn('unshare', ['--net', 'sleep', '600'], { stdio: 'ignore' });
    try {
      const pid = holder.pid!;
      await eventually(async () => {
        const [mine, its] = await Promise.all([
          readlink('/proc/self/ns/net'),
          readlink(`/proc/${pid}/ns/net`),
        ]);
        return mine !== its;
      });
      await sb.ip.run({ name: sb.hostNetns }, ['link', 'set', vf.netdev!, 'netns', String(pid)]);
      await eventually(async () => (await nic.state()).pfs[0]!.vfs[1]!.netdev === null);
      const repBefore = (await nic.state()).pfs[0]!.vfs[1]!.representor;
      expect(repBefore).not.toBeNull();
      holder.kill('SIGKILL');
      const back = await eventually(
        async () => (await nic.state()).pfs[0]!.vfs[1]!.netdev,
        10_000,
        'VF back in the host netns',
      );
      expect(back).toMatch(/^dev\d+$/);
      const st = (await nic.state()).pfs[0]!;
      expect(st.vfs[1]!.representor).toBe(repBefore);
      // The untouched VF is what it was.
      expect(st.vfs[0]!.netdev).toBe(pf.vfs[0]!.netdev);
      await eventually(async () =>
        (await readdir(path.join(nic.sysfsRoot, 'sys', `bus/pci/devices/${vf.pci}/net`))).includes(
          back!,
        ),
      );
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
