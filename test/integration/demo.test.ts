import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

describe('ovs-offload demo (the README main job)', () => {
  it('builds a node, attaches two pods through CNI, pings, reports, and removes everything', () => {
    const r = spawnSync(path.resolve('bin/ovs-offload'), ['demo'], {
      encoding: 'utf8',
      timeout: 170_000,
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/nics\[\] policy applied \(sriov_numvfs 4, devlink eswitch switchdev/);
    expect(out).toMatch(
      /pod default\/web via ovs-offload-cni → portmap\n\s+net1 10\.99\.0\.\d+, VF 0000:03:00\.2/,
    );
    expect(out).toMatch(/3 packets transmitted, 3 received, 0% packet loss/);
    expect(out).toMatch(/default\/web\s+net1\s+offload\s+0000:03:00\.2/);
    expect(out).toMatch(/web\.default\.sriov-net1\.default\.ovn\s+default\/web\s+true/);
    // The emulated node says it is not offloaded, and why; the real capture says it is.
    expect(out).toMatch(/default\/web\s+software/);
    expect(out).toMatch(/userspace-datapath: /);
    expect(out).not.toMatch(/hw-offload-off/);
    expect(out).toMatch(/verdict: not offloaded \(0 of 2 ports offloaded\)/);
    expect(out).toMatch(/5b45c61b307e_h\s+default\/nginx\s+offloaded/);
    expect(out).toMatch(/verdict: offloaded \(2 of 2 ports\)/);
    expect(out).toMatch(/teardown: .*\n\s+nothing left behind/);
    const sandbox = /host netns (ooh-[a-z0-9]{4})/.exec(out)?.[1];
    expect(sandbox).toBeDefined();
    const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    expect(ns).not.toContain(sandbox!.slice(4));
  });
});
