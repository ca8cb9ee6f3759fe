import { describe, expect, it } from 'vitest';
import { executePlan, planEswitch, type EswitchPolicy } from '../../src/representor/index.js';
import type { CallRecord, EmulatedNic } from '../../src/sandbox/index.js';
import { ExecaRunner, NotSupportedError, SysFs } from '../../src/sys/index.js';
import { readInventory, readPf, type NicContext } from '../../src/vf/index.js';
import { newNode } from '../helpers/sandbox.js';

/**
 * Switchdev bring-up on the emulated NIC: each driver's ordering, asserted from the call log
 * of the devlink/ethtool stand-ins and the sysfs writes the emulated kernel acted on.
 */

const PF = '0000:03:00.0';

function ctxOf(nic: EmulatedNic): NicContext {
  return { sysfs: new SysFs(nic.sysfsRoot), runner: new ExecaRunner({ PATH: nic.path }) };
}

/** Every host mutation in order (reads — eswitch/port show, ethtool -k — left out). */
function mutations(calls: readonly CallRecord[]): string[] {
  const lines = calls
    .filter(
      (c) =>
        c.tool === 'sysfs' ||
        (c.tool === 'devlink' && c.argv.includes('set')) ||
        (c.tool === 'ethtool' && c.argv[0] === '-K'),
    )
    .map(
      (c) =>
        `${c.tool === 'sysfs' ? '' : `${c.tool} `}${c.argv.join(' ')}${c.code ? ' → refused' : ''}`,
    );
  // hw-tc-offload (the last step) runs a few netdevs at a time: their order is not fixed.
  const ethtool = (l: string) => l.startsWith('ethtool ');
  return [...lines.filter((l) => !ethtool(l)), ...lines.filter(ethtool).sort()];
}

async function bringUp(nic: EmulatedNic, policy: EswitchPolicy) {
  const ctx = ctxOf(nic);
  const pf = await readPf(ctx, PF);
  const steps = planEswitch(pf, policy);
  await nic.clearCalls();
  const result = await executePlan(ctx, pf, steps, { timeoutMs: 20_000 });
  await nic.sync();
  return { ctx, steps, result, calls: await nic.calls() };
}

function hwTc(up: string, reps: string[]): string[] {
  return [up, ...reps].map((d) => `ethtool -K ${d} hw-tc-offload on`).sort();
}

describe('switchdev bring-up on the emulated NIC', () => {
  it('mlx5: numvfs → unbind VFs → switchdev → rebind → hw-tc-offload', async () => {
    const { nic } = await newNode({
      nic: { identity: 'mlx5', vfsPerPf: 0, eswitchMode: 'legacy' },
    });
    const up = nic.uplink(0);
    const { result, calls, ctx } = await bringUp(nic, { numVfs: 2, eswitchMode: 'switchdev' });
    expect(result).toEqual({ pf: PF, ok: true, strategy: 'mlx5', warnings: [], errors: [] });
    expect(mutations(calls)).toEqual([
      `write ${PF}/sriov_numvfs 2`,
      'write drivers/mlx5_core/unbind 0000:03:00.2',
      'write drivers/mlx5_core/unbind 0000:03:00.3',
      `devlink dev eswitch set pci/${PF} mode switchdev`,
      'write drivers/mlx5_core/bind 0000:03:00.2',
      'write drivers/mlx5_core/bind 0000:03:00.3',
      ...hwTc(up, [`${up}_0`, `${up}_1`]),
    ]);
    const pf = await readPf(ctx, PF);
    expect(pf).toMatchObject({ eswitchMode: 'switchdev', uplink: up, netdev: up, numVfs: 2 });
    expect(pf.vfs.map((v) => [v.driver, v.netdev, v.representor])).toEqual([
      ['mlx5_core', `${up}v0`, `${up}_0`],
      ['mlx5_core', `${up}v1`, `${up}_1`],
    ]);
    const k = await ctx.runner.run(['ethtool', '-k', `${up}_1`]);
    expect(k.stdout).toMatch(/^hw-tc-offload: on$/m);
  });

  it('ice (E810): numvfs 0 → switchdev → numvfs N → hw-tc-offload', async () => {
    const { nic } = await newNode({
      nic: { identity: 'e810', vfsPerPf: 2, eswitchMode: 'legacy' },
    });
    const up = nic.uplink(0);
    const { result, calls, ctx } = await bringUp(nic, { eswitchMode: 'switchdev' });
    expect(result).toMatchObject({ ok: true, strategy: 'ice', warnings: [], errors: [] });
    expect(mutations(calls)).toEqual([
      `write ${PF}/sriov_numvfs 0`,
      `devlink dev eswitch set pci/${PF} mode switchdev`,
      `write ${PF}/sriov_numvfs 2`,
      ...hwTc(up, [`${up}_0`, `${up}_1`]),
    ]);
    const pf = await readPf(ctx, PF);
    expect(pf.vfs.map((v) => [v.driver, v.representor])).toEqual([
      ['iavf', `${up}_0`],
      ['iavf', `${up}_1`],
    ]);
  });

  it('metaScale (1f67): create VFs, then switchdev, no unbind', async () => {
    const { nic } = await newNode({
      nic: { identity: 'metascale', vfsPerPf: 0, eswitchMode: 'legacy', totalVfs: 512 },
    });
    const up = nic.uplink(0);
    const { result, calls } = await bringUp(nic, { numVfs: 3, eswitchMode: 'switchdev' });
    expect(result).toMatchObject({ ok: true, strategy: 'metascale' });
    expect(mutations(calls)).toEqual([
      `write ${PF}/sriov_numvfs 3`,
      `devlink dev eswitch set pci/${PF} mode switchdev`,
      ...hwTc(up, [`${up}_0`, `${up}_1`, `${up}_2`]),
    ]);
  });

  it('a firmware refusal of the first ordering: undone, then the other ordering succeeds', async () => {
    const { nic } = await newNode({
      nic: { identity: 'mlx5', vfsPerPf: 2, eswitchMode: 'legacy' },
    });
    await nic.setFault({
      refuseMode: { mode: 'switchdev', when: 'vfsExist', message: 'firmware 16.35: not with VFs' },
    });
    const up = nic.uplink(0);
    const { result, calls, ctx } = await bringUp(nic, { eswitchMode: 'switchdev' });
    expect(result.ok).toBe(true);
    expect(result.strategy).toBe('ice');
    expect(result.warnings[0]).toMatch(
      /^mlx5 ordering failed and was undone \(devlink dev eswitch set pci\/0000:03:00\.0 mode switchdev: set eswitch mode of pci\/0000:03:00\.0 to switchdev: Error: firmware 16\.35: not with VFs\..*\); applied with the ice ordering$/,
    );
    expect(mutations(calls)).toEqual([
      'write drivers/mlx5_core/unbind 0000:03:00.2',
      'write drivers/mlx5_core/unbind 0000:03:00.3',
      `devlink dev eswitch set pci/${PF} mode switchdev → refused`,
      // undo, newest first
      'write drivers/mlx5_core/bind 0000:03:00.3',
      'write drivers/mlx5_core/bind 0000:03:00.2',
      // the other ordering
      `write ${PF}/sriov_numvfs 0`,
      `devlink dev eswitch set pci/${PF} mode switchdev`,
      `write ${PF}/sriov_numvfs 2`,
      ...hwTc(up, [`${up}_0`, `${up}_1`]),
    ]);
    const inv = await readInventory(ctxOf(nic));
    expect(inv.pfs[0]!.vfs.every((v) => v.representor !== null && v.driver === 'mlx5_core')).toBe(
      true,
    );
    expect(ctx).toBeDefined();
  });

  it('both orderings refused: both errors reported, the PF left as it was', async () => {
    const { nic } = await newNode({
      nic: { identity: 'e810', vfsPerPf: 2, eswitchMode: 'legacy' },
    });
    await nic.setFault({
      refuseMode: { mode: 'switchdev', when: 'noVfs', message: 'NVM too old' },
    });
    const before = await nic.state();
    const { result, calls } = await bringUp(nic, { eswitchMode: 'switchdev' });
    expect(result.ok).toBe(false);
    expect(result.strategy).toBeNull();
    expect(result.errors).toHaveLength(2);
    expect(result.errors[0]).toMatch(/^ice ordering: devlink dev eswitch set .*NVM too old/);
    expect(result.errors[1]).toMatch(
      /^mlx5 ordering: devlink dev eswitch set .*Changing eswitch mode is allowed only if there is no VFs created/,
    );
    expect(mutations(calls)).toEqual([
      `write ${PF}/sriov_numvfs 0`,
      `devlink dev eswitch set pci/${PF} mode switchdev → refused`,
      `write ${PF}/sriov_numvfs 2`,
      'write drivers/iavf/unbind 0000:03:02.0',
      'write drivers/iavf/unbind 0000:03:02.1',
      `devlink dev eswitch set pci/${PF} mode switchdev → refused`,
      'write drivers/iavf/bind 0000:03:02.1',
      'write drivers/iavf/bind 0000:03:02.0',
    ]);
    const after = await nic.state();
    const shape = (s: typeof before) =>
      s.pfs.map((p) => ({
        mode: p.mode,
        numVfs: p.numVfs,
        vfs: p.vfs.map((v) => [v.pci, v.driver, v.netdev]),
      }));
    expect(shape(after)).toEqual(shape(before));
  });

  it('hw-tc-offload refused on one representor: a warning, the bring-up still succeeds', async () => {
    const { nic } = await newNode({
      nic: { identity: 'mlx5', vfsPerPf: 2, eswitchMode: 'legacy' },
    });
    const up = nic.uplink(0);
    await nic.setFault({ refuseHwTcOffload: [`${up}_1`] });
    const { result } = await bringUp(nic, { eswitchMode: 'switchdev' });
    expect(result.ok).toBe(true);
    expect(result.warnings).toEqual([
      `hw-tc-offload on ${up}_1: Cannot change hw-tc-offload (tc rules stay in software)`,
    ]);
  });

  it('devlink printing garbage: a clear error before anything is changed', async () => {
    const { nic } = await newNode({
      nic: { identity: 'mlx5', vfsPerPf: 2, eswitchMode: 'legacy' },
    });
    await nic.setFault({ devlinkGarbage: 'kernel oops: the quick brown fox\n' });
    await nic.clearCalls();
    const err = await readPf(ctxOf(nic), PF).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotSupportedError);
    expect((err as Error).message).toBe(
      'read eswitch mode of pci/0000:03:00.0: devlink printed something that is not JSON: "kernel oops: the quick brown fox"',
    );
    expect(mutations(await nic.calls())).toEqual([]);
  });
});
