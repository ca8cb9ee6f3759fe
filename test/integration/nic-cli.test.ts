import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CallRecord, EmulatedNic } from '../../src/sandbox/index.js';
import { ExecaRunner, packageRoot } from '../../src/sys/index.js';
import { newNode } from '../helpers/sandbox.js';

/** `ovs-offload nics` and `nics apply`, the built executable against the emulated NIC. */

const BIN = path.join(packageRoot(), 'bin/ovs-offload');

async function cli(nic: EmulatedNic, args: string[]) {
  const r = await new ExecaRunner({ PATH: nic.path, OVS_OFFLOAD_LOG_LEVEL: 'warn' }).run(
    [BIN, ...args],
    { okExitCodes: [1, 2], timeoutMs: 120_000 },
  );
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

async function config(nic: EmulatedNic, nics: unknown[]): Promise<string> {
  const file = path.join(nic.dir, `config-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify({ nodeName: 'n1', sysfsRoot: nic.sysfsRoot, nics }));
  return file;
}

const mutations = (calls: readonly CallRecord[]) =>
  calls.filter(
    (c) =>
      c.tool === 'sysfs' ||
      (c.tool === 'devlink' && c.argv.includes('set')) ||
      (c.tool === 'ethtool' && c.argv[0] === '-K') ||
      (c.tool === 'ip' && c.argv.includes('set')),
  );

describe('ovs-offload nics', () => {
  it('--json follows DESIGN §3.4: keys, order, hex ids, null rules', async () => {
    const { nic } = await newNode({
      nic: { identity: 'mlx5', pfs: 2, vfsPerPf: 2, eswitchMode: 'legacy', numa: [-1, 1] },
    });
    const r = await cli(nic, ['nics', '--sysfs-root', nic.sysfsRoot, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { pfs: Record<string, unknown>[] };
    expect(Object.keys(out)).toEqual(['pfs']);
    expect(out.pfs.map((p) => Object.keys(p))).toEqual(
      Array(2).fill([
        'pci',
        'netdev',
        'driver',
        'vendor',
        'device',
        'numa',
        'totalVfs',
        'numVfs',
        'eswitchMode',
        'uplink',
        'vfs',
      ]),
    );
    const up0 = nic.uplink(0);
    const vf0Mac = (
      await readFile(
        path.join(nic.sysfsRoot, `sys/bus/pci/devices/0000:03:00.2/net/${up0}v0/address`),
        'utf8',
      )
    ).trim();
    expect(vf0Mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(out.pfs[0]).toEqual({
      pci: '0000:03:00.0',
      netdev: up0,
      driver: 'mlx5_core',
      vendor: '15b3',
      device: '1017',
      numa: null,
      totalVfs: 16,
      numVfs: 2,
      eswitchMode: 'legacy',
      uplink: null,
      vfs: [
        {
          index: 0,
          pci: '0000:03:00.2',
          netdev: `${up0}v0`,
          driver: 'mlx5_core',
          mac: vf0Mac,
          linkState: 'down',
          representor: null,
        },
        expect.objectContaining({ index: 1, pci: '0000:03:00.3', representor: null }),
      ],
    });
    expect(out.pfs[1]).toMatchObject({ pci: '0000:03:00.1', numa: 1, netdev: nic.uplink(1) });
    // table form
    const table = await cli(nic, ['nics', '--sysfs-root', nic.sysfsRoot]);
    expect(table.stdout).toMatch(/^PF\s+NETDEV\s+DRIVER\s+ID\s+NUMA\s+VFS\s+ESWITCH\s+UPLINK$/m);
    expect(table.stdout).toMatch(
      /^0000:03:00\.0\s+\S+\s+mlx5_core\s+15b3:1017\s+-\s+2\/16\s+legacy\s+-$/m,
    );
  });

  it('apply --plan prints the steps and changes nothing; apply brings both PFs up; --json lists every representor', async () => {
    const { nic } = await newNode({
      nic: { identity: 'mlx5', pfs: 2, vfsPerPf: 0, eswitchMode: 'legacy' },
    });
    const cfg = await config(nic, [
      { pf: nic.uplink(0), numVfs: 3, eswitchMode: 'switchdev' },
      { pci: '0000:03:00.1', numVfs: 2, eswitchMode: 'switchdev' },
    ]);
    await nic.clearCalls();
    const plan = await cli(nic, ['nics', 'apply', '--config', cfg, '--plan']);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toBe(
      [
        `0000:03:00.0 (${nic.uplink(0)}, mlx5_core): mlx5 ordering`,
        '  1. write 3 to sriov_numvfs (0 first when changing between non-zero counts)',
        '  2. unbind the VFs from their network driver (vfio-pci VFs stay bound)',
        '  3. devlink dev eswitch set pci/0000:03:00.0 mode switchdev',
        '  4. bind those VFs back to the drivers they had',
        '  5. ethtool -K <uplink and each representor> hw-tc-offload on, checked with ethtool -k',
        `0000:03:00.1 (${nic.uplink(1)}, mlx5_core): mlx5 ordering`,
        '  1. write 2 to sriov_numvfs (0 first when changing between non-zero counts)',
        '  2. unbind the VFs from their network driver (vfio-pci VFs stay bound)',
        '  3. devlink dev eswitch set pci/0000:03:00.1 mode switchdev',
        '  4. bind those VFs back to the drivers they had',
        '  5. ethtool -K <uplink and each representor> hw-tc-offload on, checked with ethtool -k',
        '',
      ].join('\n'),
    );
    expect(mutations(await nic.calls())).toEqual([]);

    const apply = await cli(nic, ['nics', 'apply', '--config', cfg]);
    expect(apply.stderr).not.toMatch(/error/i);
    expect(apply.stdout).toBe(
      '0000:03:00.0: ok (mlx5 ordering)\n0000:03:00.1: ok (mlx5 ordering)\n',
    );
    expect(apply.code).toBe(0);

    const r = await cli(nic, ['nics', '--sysfs-root', nic.sysfsRoot, '--json']);
    const out = JSON.parse(r.stdout) as {
      pfs: {
        eswitchMode: string;
        uplink: string;
        netdev: string;
        vfs: { representor: string | null }[];
      }[];
    };
    const st = await nic.state();
    expect(out.pfs.map((p) => [p.eswitchMode, p.uplink, p.netdev])).toEqual([
      ['switchdev', nic.uplink(0), nic.uplink(0)],
      ['switchdev', nic.uplink(1), nic.uplink(1)],
    ]);
    expect(out.pfs.map((p) => p.vfs.map((v) => v.representor))).toEqual(
      st.pfs.map((p) => p.vfs.map((v) => v.representor)),
    );
    expect(out.pfs.flatMap((p) => p.vfs.map((v) => v.representor))).toEqual([
      `${nic.uplink(0)}_0`,
      `${nic.uplink(0)}_1`,
      `${nic.uplink(0)}_2`,
      `${nic.uplink(1)}_0`,
      `${nic.uplink(1)}_1`,
    ]);

    // Applying again finds nothing to change but hw-tc-offload, which it re-checks.
    await nic.clearCalls();
    const again = await cli(nic, ['nics', 'apply', '--config', cfg]);
    expect(again.code).toBe(0);
    expect(mutations(await nic.calls()).every((c) => c.tool === 'ethtool')).toBe(true);
  });

  it.each([
    [
      'a PF that does not exist',
      [{ pci: '0000:03:00.7', numVfs: 2 }],
      /find PF 0000:03:00\.7: no such PCI device/,
    ],
    [
      'a netdev that does not exist',
      [{ pf: 'nosuch0', numVfs: 2 }],
      /find PF of netdev nosuch0: no such netdev/,
    ],
    [
      'numVfs above sriov_totalvfs',
      [{ pci: '0000:03:00.0', numVfs: 17, eswitchMode: 'switchdev' }],
      /numVfs: 17 is above sriov_totalvfs 16 of 0000:03:00\.0/,
    ],
    [
      'a PCI address not DDDD:BB:DD.F',
      [{ pci: '03:00.0', numVfs: 2 }],
      /nics\[0\]\.pci: not a PCI address of the form DDDD:BB:DD\.F/,
    ],
    [
      'a good policy before a bad one',
      [{ pci: '0000:03:00.0', numVfs: 4 }, { pci: '0000:09:00.0' }],
      /nics\[1\] \(0000:09:00\.0\): find PF 0000:09:00\.0/,
    ],
  ])('%s: exit 2, one line, nothing changed', async (_name, nics, message) => {
    const { nic } = await newNode({
      nic: { identity: 'mlx5', vfsPerPf: 2, eswitchMode: 'legacy' },
    });
    const cfg = await config(nic, nics);
    await nic.clearCalls();
    const r = await cli(nic, ['nics', 'apply', '--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(mutations(await nic.calls())).toEqual([]);
  });

  it('devlink printing garbage: exit 2 with a clear reason, nothing changed', async () => {
    const { nic } = await newNode({
      nic: { identity: 'mlx5', vfsPerPf: 2, eswitchMode: 'legacy' },
    });
    const cfg = await config(nic, [{ pci: '0000:03:00.0', eswitchMode: 'switchdev' }]);
    await nic.setFault({ devlinkGarbage: '{"dev":' });
    await nic.clearCalls();
    const list = await cli(nic, ['nics', '--sysfs-root', nic.sysfsRoot, '--json']);
    expect(list.code).toBe(2);
    expect(list.stderr).toMatch(
      /^ovs-offload nics: read eswitch mode of pci\/0000:03:00\.0: devlink printed something that is not JSON: "\{\\"dev\\":"$/m,
    );
    const apply = await cli(nic, ['nics', 'apply', '--config', cfg]);
    expect(apply.code).toBe(2);
    expect(apply.stderr).toMatch(/devlink printed something that is not JSON/);
    expect(mutations(await nic.calls())).toEqual([]);
  });

  it('usage errors exit 2', async () => {
    const { nic } = await newNode({ nic: { vfsPerPf: 0 } });
    for (const args of [
      ['nics', 'frobnicate'],
      ['nics', 'apply'],
      ['nics', '--plan'],
      ['nics', '--sysfs-root', 'relative/dir'],
      ['nics', '--sysfs-root', '/nonexistent-root'],
    ]) {
      const r = await cli(nic, args);
      expect(r.code, args.join(' ')).toBe(2);
    }
  });
});
