import { afterEach, describe, expect, it } from 'vitest';
import { NotFoundError, NotSupportedError, InvalidInputError } from '../../../src/sys/index.js';
import {
  findVf,
  parseInventory,
  readInventory,
  readPf,
  resolvePfPci,
  type InventorySnapshot,
} from '../../../src/vf/index.js';
import { capture, captureLines, devlinkPortTextToJson } from '../../helpers/captures.js';
import {
  buildSysfsTree,
  ctxOf,
  devlinkRunner,
  vfRange,
  type PfSpec,
  type Tree,
  type TreeSpec,
} from '../../helpers/sysfs-tree.js';

/**
 * Inventory table tests on sysfs trees built from real captures (test/fixtures/nic). Each
 * case names the capture its facts come from.
 */

const trees: Tree[] = [];
afterEach(async () => {
  while (trees.length > 0) await trees.pop()!.cleanup();
});
async function tree(spec: TreeSpec): Promise<Tree> {
  const t = await buildSysfsTree(spec);
  trees.push(t);
  return t;
}

// wangjun-readlink-virtfn.txt: ConnectX-5 PF 0000:d8:00.0 has virtfn0..3 → d8:00.2..5.
const CX5_VFS = captureLines('wangjun-readlink-virtfn.txt');
// wangjun-ip-d-link-pf-switchdev-switchid.txt: uplink enp216s0f0, portname p0, switchid ea2cce00039f59b8.
const CX5_SWITCH_ID = /switchid (\w+)/.exec(
  capture('wangjun-ip-d-link-pf-switchdev-switchid.txt'),
)![1]!;

function cx5(mode: 'switchdev' | 'legacy', extraNet0: PfSpec['netdevs'] = []): TreeSpec {
  const sw = mode === 'switchdev' ? { physSwitchId: CX5_SWITCH_ID } : {};
  const reps = (pf: number, n: number) =>
    mode === 'switchdev'
      ? Array.from({ length: n }, (_, i) => ({
          name: `enp216s0f${pf}_${i}`,
          physPortName: `pf${pf}vf${i}`,
          ...sw,
        }))
      : [];
  return {
    pfs: [
      {
        pci: '0000:d8:00.0',
        parent: 'pci0000:d7/0000:d7:00.0',
        vendor: '15b3',
        device: '1017',
        driver: 'mlx5_core',
        numa: 1,
        totalVfs: 8,
        netdevs: [
          {
            name: 'enp216s0f0',
            mac: 'b8:59:9f:ce:2c:ea',
            operstate: 'up',
            carrier: '1',
            physPortName: 'p0',
            ...sw,
          },
          ...reps(0, 4),
          ...(extraNet0 ?? []),
        ],
        vfs: CX5_VFS.map((pci, index) => ({
          index,
          pci,
          vendor: '15b3',
          device: '1018',
          driver: 'mlx5_core',
          numa: 1,
          netdevs: [{ name: `enp216s0f0v${index}`, mac: `02:00:00:00:00:0${index}` }],
          uverbs: [`uverbs${index + 2}`],
          ibDevices: [`mlx5_${index + 2}`],
        })),
      },
      {
        pci: '0000:d8:00.1',
        parent: 'pci0000:d7/0000:d7:00.0',
        vendor: '15b3',
        device: '1017',
        driver: 'mlx5_core',
        numa: 1,
        totalVfs: 8,
        netdevs: [
          { name: 'enp216s0f1', mac: 'b8:59:9f:ce:2c:eb', physPortName: 'p1', ...sw },
          ...reps(1, 2),
        ],
        vfs: vfRange('0000:d8:01.2', 2, (i) => ({
          vendor: '15b3',
          device: '1018',
          driver: 'mlx5_core',
          netdevs: [`enp216s0f1v${i}`],
        })),
      },
    ],
    others: [
      // An onboard NIC without SR-IOV and a non-network function with sriov_totalvfs.
      { pci: '0000:00:1f.6', vendor: '8086', device: '15bb', driver: 'e1000e', netdevs: ['eno1'] },
      { pci: '0000:5e:00.0', class: '0x010802', vendor: '144d', device: 'a824', driver: 'nvme' },
    ],
  };
}

describe('inventory: ConnectX-5, two PFs sharing one switch id', () => {
  it('switchdev: PFs by PCI, uplinks by p<N>, every VF with the representor of its own PF', async () => {
    const t = await tree(cx5('switchdev'));
    const runner = devlinkRunner({
      eswitch: { '0000:d8:00.0': 'switchdev', '0000:d8:00.1': 'switchdev' },
      ports: 'none',
    });
    const inv = await readInventory(ctxOf(t, runner));
    expect(inv.pfs.map((p) => p.pci)).toEqual(['0000:d8:00.0', '0000:d8:00.1']);
    const [pf0, pf1] = inv.pfs;
    expect(pf0).toMatchObject({
      netdev: 'enp216s0f0',
      uplink: 'enp216s0f0',
      vendor: '15b3',
      device: '1017',
      driver: 'mlx5_core',
      numa: 1,
      totalVfs: 8,
      numVfs: 4,
      eswitchMode: 'switchdev',
      physPortName: 'p0',
      physSwitchId: CX5_SWITCH_ID,
      operstate: 'up',
      carrier: true,
      mac: 'b8:59:9f:ce:2c:ea',
    });
    expect(pf0!.vfs.map((v) => [v.vfIndex, v.pci, v.netdev, v.representor])).toEqual([
      [0, '0000:d8:00.2', 'enp216s0f0v0', 'enp216s0f0_0'],
      [1, '0000:d8:00.3', 'enp216s0f0v1', 'enp216s0f0_1'],
      [2, '0000:d8:00.4', 'enp216s0f0v2', 'enp216s0f0_2'],
      [3, '0000:d8:00.5', 'enp216s0f0v3', 'enp216s0f0_3'],
    ]);
    expect(pf0!.vfs[1]).toMatchObject({
      vendor: '15b3',
      device: '1018',
      driver: 'mlx5_core',
      driverOverride: null,
      mac: '02:00:00:00:00:01',
      operstate: 'down',
      rdma: ['uverbs3'],
      rdmaDevices: ['mlx5_3'],
    });
    expect(pf0!.vfs[1]!.iommuGroup).toEqual(expect.any(Number));
    expect(pf1!.uplink).toBe('enp216s0f1');
    expect(pf1!.vfs.map((v) => v.representor)).toEqual(['enp216s0f1_0', 'enp216s0f1_1']);
    expect(findVf(inv, '0000:D8:01.3')).toMatchObject({
      pf: { pci: '0000:d8:00.1' },
      vf: { vfIndex: 1 },
    });
    expect(findVf(inv, '0000:d8:00.1')).toBeUndefined();
    expect(runner.lines()).toEqual(
      expect.arrayContaining([
        'devlink -j dev eswitch show pci/0000:d8:00.0',
        'devlink -j dev eswitch show pci/0000:d8:00.1',
        'devlink -j port show',
      ]),
    );
    expect(runner.lines().some((l) => l.startsWith('ip'))).toBe(false);
  });

  it('never takes a representor of the other PF that sits under this PF (same switch id, pfnum 1)', async () => {
    const stray = { name: 'enp216s0f1_3', physPortName: 'pf1vf3', physSwitchId: CX5_SWITCH_ID };
    const spec = cx5('switchdev', [stray]);
    // VF 3 of PF0 has no representor of its own in this tree: only pf1vf3 claims "vf3".
    spec.pfs[0]!.netdevs = spec.pfs[0]!.netdevs!.filter(
      (n) => typeof n === 'string' || n.name !== 'enp216s0f0_3',
    );
    const t = await tree(spec);
    const runner = devlinkRunner({
      eswitch: { '0000:d8:00.0': 'switchdev', '0000:d8:00.1': 'switchdev' },
    });
    const pf0 = (await readInventory(ctxOf(t, runner))).pfs[0]!;
    expect(pf0.vfs[3]!.representor).toBeNull();
    expect(pf0.vfs[2]!.representor).toBe('enp216s0f0_2');
  });

  it('legacy: no uplink, no representors, the PF reports its own netdev', async () => {
    const t = await tree(cx5('legacy'));
    const runner = devlinkRunner({
      eswitch: { '0000:d8:00.0': 'legacy', '0000:d8:00.1': 'none' },
    });
    const inv = await readInventory(ctxOf(t, runner));
    expect(inv.pfs.map((p) => [p.eswitchMode, p.netdev, p.uplink])).toEqual([
      ['legacy', 'enp216s0f0', null],
      ['legacy', 'enp216s0f1', null],
    ]);
    expect(inv.pfs[0]!.vfs.every((v) => v.representor === null)).toBe(true);
    // legacy everywhere: devlink ports are not even asked for
    expect(runner.lines()).not.toContain('devlink -j port show');
  });
});

describe('inventory: other vendors and layouts', () => {
  it('metaScale 1f67: VFs b3:00.2..b3:01.3 in virtfn order, PF found by its netdev p3p1', async () => {
    // kubeovn-yunsilicon-ls-class-net-pf-symlink.txt: p3p1 → …/pci0000:b2/0000:b2:00.0/0000:b3:00.0/net/p3p1
    const line = capture('kubeovn-yunsilicon-ls-class-net-pf-symlink.txt');
    const parent = /devices\/(pci0000:b2\/0000:b2:00\.0)\/0000:b3:00\.0\/net\/p3p1/.exec(line)![1]!;
    const t = await tree({
      pfs: [
        {
          pci: '0000:b3:00.0',
          parent,
          vendor: '1f67',
          device: '1111',
          driver: 'xsc_pci',
          totalVfs: 512,
          netdevs: ['p3p1'],
          vfs: vfRange('0000:b3:00.2', 10, (i) => ({
            vendor: '1f67',
            device: '1112',
            driver: 'xsc_pci',
            netdevs: [`p3p1v${i}`],
          })),
        },
        {
          pci: '0000:b3:00.1',
          parent,
          vendor: '1f67',
          device: '1111',
          totalVfs: 512,
          netdevs: ['p3p2'],
        },
      ],
    });
    const runner = devlinkRunner({
      eswitch: { '0000:b3:00.0': 'legacy', '0000:b3:00.1': 'legacy' },
    });
    const ctx = ctxOf(t, runner);
    const inv = await readInventory(ctx);
    const pf = inv.pfs[0]!;
    expect(pf.vfs.map((v) => v.pci)).toEqual([
      '0000:b3:00.2',
      '0000:b3:00.3',
      '0000:b3:00.4',
      '0000:b3:00.5',
      '0000:b3:00.6',
      '0000:b3:00.7',
      '0000:b3:01.0',
      '0000:b3:01.1',
      '0000:b3:01.2',
      '0000:b3:01.3',
    ]);
    expect(pf.vfs.every((v) => v.vendor === '1f67' && v.device === '1112')).toBe(true);
    expect(pf).toMatchObject({ totalVfs: 512, numVfs: 10, numa: null, netdev: 'p3p1' });
    expect(inv.pfs[1]).toMatchObject({ pci: '0000:b3:00.1', numVfs: 0, driver: null, vfs: [] });
    expect(await resolvePfPci(t.sysfs, 'p3p1')).toBe('0000:b3:00.0');
    expect((await readPf(ctx, 'p3p1')).pci).toBe('0000:b3:00.0');
  });

  it('nfp: sriov_totalvfs 65 is read as it is', async () => {
    const total = Number(capture('kubeovn-corigine-nfp-sriov-totalvfs-65.txt').trim());
    expect(total).toBe(65);
    const t = await tree({
      pfs: [
        {
          pci: '0000:82:00.0',
          vendor: '19ee',
          device: '4000',
          driver: 'nfp',
          totalVfs: total,
          netdevs: ['ens3'],
          vfs: vfRange('0000:82:08.0', 4, () => ({
            vendor: '19ee',
            device: '6003',
            driver: 'nfp',
          })),
        },
      ],
    });
    const inv = await readInventory(
      ctxOf(t, devlinkRunner({ eswitch: { '0000:82:00.0': 'none' } })),
    );
    expect(inv.pfs[0]).toMatchObject({
      totalVfs: 65,
      numVfs: 4,
      eswitchMode: 'legacy',
      netdev: 'ens3',
    });
    expect(inv.pfs[0]!.vfs.every((v) => v.netdev === null && v.mac === null)).toBe(true);
  });

  it('20 VFs: numeric virtfn order (ls puts virtfn10 before virtfn2) and their representors', async () => {
    const sw = { physSwitchId: '0c42a1033b5c1e18' };
    const t = await tree({
      pfs: [
        {
          pci: '0000:3b:00.0',
          vendor: '15b3',
          device: '101d',
          driver: 'mlx5_core',
          totalVfs: 32,
          netdevs: [
            { name: 'ens1f0np0', physPortName: 'p0', ...sw },
            ...Array.from({ length: 20 }, (_, i) => ({
              name: `ens1f0npf0vf${i}`,
              physPortName: `pf0vf${i}`,
              ...sw,
            })),
          ],
          vfs: vfRange('0000:3b:00.2', 20, (i) => ({
            driver: 'mlx5_core',
            netdevs: [`ens1f0v${i}`],
          })),
        },
      ],
    });
    const inv = await readInventory(
      ctxOf(t, devlinkRunner({ eswitch: { '0000:3b:00.0': 'switchdev' } })),
    );
    const vfs = inv.pfs[0]!.vfs;
    expect(vfs.map((v) => v.vfIndex)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(vfs[2]!.pci).toBe('0000:3b:00.4');
    expect(vfs[10]!.pci).toBe('0000:3b:01.4');
    expect(vfs[10]!.representor).toBe('ens1f0npf0vf10');
    expect(vfs[19]!.representor).toBe('ens1f0npf0vf19');
  });

  it('hypervisor side of a DPU (novaspec): flavour virtual VF ports are not representors', async () => {
    const ports = devlinkPortTextToJson(capture('novaspec-hypervisor-flavour-virtual-port0.txt'));
    const vfNet = (pf: number) => (i: number) => ({
      netdevs: [{ name: `enp5s0f${pf}np0v${i}`, physPortName: 'p0' }],
    });
    const t = await tree({
      pfs: [
        {
          pci: '0000:05:00.0',
          driver: 'mlx5_core',
          totalVfs: 8,
          netdevs: [{ name: 'enp5s0f0', physPortName: 'p0' }],
          vfs: vfRange('0000:05:00.3', 4, vfNet(0)),
        },
        {
          pci: '0000:05:00.1',
          driver: 'mlx5_core',
          totalVfs: 8,
          netdevs: [{ name: 'enp5s0f1', physPortName: 'p1' }],
          vfs: vfRange('0000:05:02.3', 4, vfNet(1)),
        },
      ],
    });
    const runner = devlinkRunner({
      eswitch: { '0000:05:00.0': 'switchdev', '0000:05:00.1': 'legacy' },
      ports,
    });
    const inv = await readInventory(ctxOf(t, runner));
    expect(inv.pfs[1]!.vfs.map((v) => [v.pci, v.netdev])).toEqual([
      ['0000:05:02.3', 'enp5s0f1np0v0'],
      ['0000:05:02.4', 'enp5s0f1np0v1'],
      ['0000:05:02.5', 'enp5s0f1np0v2'],
      ['0000:05:02.6', 'enp5s0f1np0v3'],
    ]);
    // Even asked as switchdev, no switch id → no uplink; virtual ports of the VFs' own
    // devlink devices → no representors.
    expect(inv.pfs[0]!.uplink).toBeNull();
    expect(inv.pfs.flatMap((p) => p.vfs.map((v) => v.representor))).toEqual(Array(8).fill(null));
  });

  it('DPU-side names never map to a host VF: c1pf0vf3, pf0sf7, pf0 (pf0hpf), bare numbers', async () => {
    const sw = { physSwitchId: 'a4b1c2d3e4f50607' };
    const t = await tree({
      pfs: [
        {
          pci: '0000:03:00.0',
          driver: 'mlx5_core',
          totalVfs: 16,
          netdevs: [
            { name: 'p0', physPortName: 'p0', ...sw },
            { name: 'pf0hpf', physPortName: 'pf0', ...sw },
            { name: 'c1pf0vf3', physPortName: 'c1pf0vf3', ...sw },
            { name: 'en3f0pf0sf7', physPortName: 'pf0sf7', ...sw },
            { name: 'eth5', physPortName: '5', ...sw },
            { name: 'pf0vf0', physPortName: 'pf0vf0', ...sw },
          ],
          vfs: vfRange('0000:03:00.2', 8),
        },
      ],
    });
    const runner = () => devlinkRunner({ eswitch: { '0000:03:00.0': 'switchdev' } });
    const reps = (await readInventory(ctxOf(t, runner()))).pfs[0]!.vfs.map((v) => v.representor);
    expect(reps).toEqual(['pf0vf0', null, null, null, null, null, null, null]);
    const legacyNames = await readInventory(ctxOf(t, runner()), { legacyPortNames: true });
    expect(legacyNames.pfs[0]!.vfs[5]!.representor).toBe('eth5');
    expect(legacyNames.pfs[0]!.vfs[3]!.representor).toBeNull();
    expect(legacyNames.pfs[0]!.vfs[7]!.representor).toBeNull();
  });
});

describe('inventory: devlink answers', () => {
  const base: TreeSpec = {
    pfs: [
      {
        pci: '0000:03:00.0',
        driver: 'mlx5_core',
        totalVfs: 4,
        netdevs: [{ name: 'up0', physPortName: 'p0', physSwitchId: 'aa' }],
      },
    ],
  };

  it.each([
    [
      'not JSON at all',
      { stdout: 'Segmentation fault\n' },
      /devlink printed something that is not JSON: "Segmentation fault"/,
    ],
    [
      'JSON without mode',
      { stdout: '{"dev":{"pci/0000:03:00.0":{"inline-mode":"none"}}}' },
      /unexpected devlink JSON \(dev\.pci\/0000:03:00\.0\.mode/,
    ],
    [
      'another device',
      { stdout: '{"dev":{"pci/0000:04:00.0":{"mode":"legacy"}}}' },
      /answered for another device/,
    ],
    [
      'an unknown mode',
      { stdout: '{"dev":{"pci/0000:03:00.0":{"mode":"turbo"}}}' },
      /unknown eswitch mode "turbo"/,
    ],
  ])('%s is a clear error', async (_name, answer, message) => {
    const t = await tree(base);
    const err = await readInventory(
      ctxOf(t, devlinkRunner({ eswitch: { '0000:03:00.0': answer } })),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotSupportedError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toMatch(/^read eswitch mode of pci\/0000:03:00\.0: /);
  });

  it('extra keys are fine; switchdev_inactive is switchdev, held', async () => {
    const t = await tree(base);
    const stdout =
      '{"dev":{"pci/0000:03:00.0":{"mode":"switchdev_inactive","encap":"enable","new-thing":[1]}}}';
    const inv = await readInventory(
      ctxOf(t, devlinkRunner({ eswitch: { '0000:03:00.0': { stdout } } })),
    );
    expect(inv.pfs[0]).toMatchObject({
      eswitchMode: 'switchdev',
      eswitchInactive: true,
      uplink: 'up0',
    });
  });

  it('garbage from devlink port show is an error too', async () => {
    const t = await tree(base);
    const runner = devlinkRunner({
      eswitch: { '0000:03:00.0': 'switchdev' },
      ports: { ports: [] },
    });
    await expect(readInventory(ctxOf(t, runner))).rejects.toThrow(
      /^list devlink ports: unexpected devlink JSON \(port: /,
    );
  });
});

describe('inventory: parseInventory is pure', () => {
  it('orders VFs by virtfn number whatever the directory order', () => {
    const fn = (pci: string, extra: object = {}) => ({
      pci,
      class: '0x020000',
      vendor: '0x8086',
      device: '0x1889',
      driver: 'iavf',
      driverOverride: '(null)',
      numaNode: '-1',
      sriovTotalVfs: null,
      sriovNumVfs: null,
      sriovDriversAutoprobe: null,
      physfn: '0000:51:00.0',
      virtfns: [],
      iommuGroup: '77',
      netdevs: [],
      uverbs: [],
      ibDevices: [],
      ...extra,
    });
    const lsOrder = ['0', '1', '10', '11', '2', '3', '4', '5', '6', '7', '8', '9'];
    const snap: InventorySnapshot = {
      pfs: [
        {
          fn: fn('0000:51:00.0', {
            vendor: '0x8086',
            device: '0x1592',
            driver: 'ice',
            sriovTotalVfs: '256\n',
            sriovNumVfs: '12',
            physfn: null,
            virtfns: lsOrder.map((n) => ({
              link: `virtfn${n}`,
              pci: `0000:51:${(1 + Math.floor(Number(n) / 8)).toString(16).padStart(2, '0')}.${Number(n) % 8}`,
            })),
          }),
          vfs: [fn('0000:51:01.2', { driver: 'vfio-pci', driverOverride: 'vfio-pci' })],
          eswitch: { none: 'devlink answers: Operation not supported' },
        },
      ],
      ports: { none: 'not asked' },
    };
    const pf = parseInventory(snap).pfs[0]!;
    expect(pf.vfs.map((v) => v.vfIndex)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(pf.vfs[10]!.pci).toBe('0000:51:02.2');
    expect(pf.vfs[2]).toMatchObject({
      pci: '0000:51:01.2',
      driver: 'vfio-pci',
      driverOverride: 'vfio-pci',
      vendor: '8086',
      device: '1889',
      iommuGroup: 77,
      numa: null,
    });
    expect(pf.vfs[3]).toMatchObject({ driver: null, vendor: null, netdev: null });
    expect(pf).toMatchObject({ totalVfs: 256, numVfs: 12, eswitchMode: 'legacy', autoprobe: true });
  });
});

describe('resolvePfPci: bad input', () => {
  it.each([
    [
      '0000:d8:00.9',
      InvalidInputError,
      /PF: "0000:d8:00\.9" is neither a PCI address of the form DDDD:BB:DD\.F nor/,
    ],
    ['d8:00.0', InvalidInputError, /is neither a PCI address/],
    ['../../etc', InvalidInputError, /is neither a PCI address/],
    ['0000:99:00.0', NotFoundError, /find PF 0000:99:00\.0: no such PCI device/],
    ['nosuch0', NotFoundError, /find PF of netdev nosuch0: no such netdev/],
    ['0000:d8:00.3', InvalidInputError, /0000:d8:00\.3 is a VF \(of PF 0000:d8:00\.0\), not a PF/],
    ['enp216s0f0v1', InvalidInputError, /0000:d8:00\.3 \(netdev enp216s0f0v1\) is a VF/],
    ['0000:00:1f.6', NotSupportedError, /not an SR-IOV network function/],
    ['0000:5e:00.0', NotSupportedError, /not an SR-IOV network function/],
  ])('%s', async (input, type, message) => {
    const t = await tree(cx5('legacy'));
    const err = await resolvePfPci(t.sysfs, input).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(type);
    expect((err as Error).message).toMatch(message);
  });

  it('a representor netdev resolves to its PF', async () => {
    const t = await tree(cx5('switchdev'));
    expect(await resolvePfPci(t.sysfs, 'enp216s0f1_1')).toBe('0000:d8:00.1');
  });
});
