import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { limboNetnsName, type Sandbox } from '../../src/sandbox/index.js';
import { eventually, newNode, type Node } from '../helpers/sandbox.js';

/**
 * The emulated NIC's netdevs carry the PCI parent a kernel >= 5.15 reports
 * (IFLA_PARENT_DEV_BUS_NAME/NAME: `ip -d` prints `parentbus`/`parentdev`): a VF's netdev
 * its VF, the uplink and switchdev representors their PF. A VF keeps it in any netns under
 * any name; nothing a pod makes (a veth with the VF's MAC and a host name) ever has one.
 */

interface ShownLink {
  ifindex: number;
  ifname: string;
  address?: string;
  parentbus?: string;
  parentdev?: string;
  [k: string]: unknown;
}

async function ipJson(node: Node, argv: readonly string[]): Promise<ShownLink[]> {
  const r = await node.sb.runner.run(argv, { env: { PATH: node.nic.path } });
  return JSON.parse(r.stdout) as ShownLink[];
}

/** `ip -n NS -d -j link show` through the stand-ins: ifname → [parentbus, parentdev]. */
async function parents(node: Node, netns: string): Promise<Map<string, [string?, string?]>> {
  const links = await ipJson(node, ['ip', '-n', netns, '-d', '-j', 'link', 'show']);
  return new Map(links.map((l) => [l.ifname, [l.parentbus, l.parentdev]]));
}

async function ipText(node: Node, argv: readonly string[]): Promise<string> {
  return (await node.sb.runner.run(argv, { env: { PATH: node.nic.path } })).stdout;
}

const host = (sb: Sandbox) => sb.hostNetns;

describe('sandbox: parentbus/parentdev of the emulated NIC (ip -d link show)', () => {
  it('at home: a VF netdev shows its VF, the uplink and representors their PF; the wire, bridges, other veths and lo nothing', async () => {
    const node = await newNode({ nic: { identity: 'mlx5', vfsPerPf: 2 } });
    const { sb, nic } = node;
    const pf = (await nic.state()).pfs[0]!;
    const [vf0, vf1] = [pf.vfs[0]!, pf.vfs[1]!];
    await sb.ip.run({ name: host(sb) }, [
      'link',
      'add',
      'o-plain0',
      'type',
      'veth',
      'peer',
      'name',
      'o-plain1',
    ]);
    const p = await parents(node, host(sb));
    expect(p.get(vf0.netdev!)).toEqual(['pci', '0000:03:00.2']);
    expect(p.get(vf1.netdev!)).toEqual(['pci', '0000:03:00.3']);
    expect(p.get(pf.netdev)).toEqual(['pci', '0000:03:00.0']);
    expect(p.get(vf0.representor!)).toEqual(['pci', '0000:03:00.0']);
    expect(p.get(vf1.representor!)).toEqual(['pci', '0000:03:00.0']);
    for (const name of [nic.wire(0), 'o-plain0', 'o-plain1', 'lo'])
      expect(p.get(name), name).toEqual([undefined, undefined]);
    expect(p.size).toBeGreaterThan(8);

    // Where iproute2 6.1 puts them: after the details, before the VF list.
    const [up] = await ipJson(node, ['ip', '-n', host(sb), '-d', '-j', 'link', 'show', pf.netdev]);
    const keys = Object.keys(up!);
    expect(keys.indexOf('parentdev')).toBe(keys.indexOf('parentbus') + 1);
    expect(keys.indexOf('parentbus')).toBeGreaterThan(keys.indexOf('gro_max_size'));
    expect(keys.indexOf('vfinfo_list')).toBe(keys.indexOf('parentdev') + 1);

    // Entered with nsenter (the stand-in names its own netns), the same answer.
    const viaNsenter = await ipJson(node, sb.inHost(['ip', '-d', '-j', 'link', 'show']));
    expect(viaNsenter.find((l) => l.ifname === vf0.netdev)?.parentdev).toBe('0000:03:00.2');
    // Without -d, no details: no parent.
    const plain = await ipJson(node, ['ip', '-n', host(sb), '-j', 'link', 'show', vf0.netdev!]);
    expect(plain[0]).not.toHaveProperty('parentbus');

    // Text: `parentbus pci parentdev PCI ` closes the details, as iproute2 prints it.
    const text = await ipText(node, ['ip', '-n', host(sb), '-d', 'link', 'show', vf0.netdev!]);
    expect(text).toMatch(/gro_max_size \d+ parentbus pci parentdev 0000:03:00\.2 \n$/);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^\\d+: ${vf0.netdev!}@${vf0.representor!}: <`));
    const rep = await ipText(node, ['ip', '-n', host(sb), '-d', 'link', 'show', pf.netdev]);
    expect(rep).toMatch(/parentbus pci parentdev 0000:03:00\.0 \n {4}vf 0 /);
    const loText = await ipText(node, ['ip', '-n', host(sb), '-d', 'link', 'show', 'lo']);
    expect(loText).not.toMatch(/parentbus/);
  });

  it('in a pod: the VF keeps its parent under any name and however the netns is entered; a pod-made veth with its MAC and host names has none', async () => {
    const node = await newNode({ nic: { identity: 'mlx5', vfsPerPf: 2 } });
    const { sb, nic } = node;
    const pf = (await nic.state()).pfs[0]!;
    const vf0 = pf.vfs[0]!;
    const pod = await sb.makePod('a');
    const env = { PATH: nic.path };
    const [home] = await ipJson(node, ['ip', '-n', host(sb), '-j', 'link', 'show', vf0.netdev!]);
    const mac = home!.address!;
    await sb.runner.run(
      ['ip', '-n', host(sb), 'link', 'set', 'dev', vf0.netdev!, 'netns', pod.netns, 'name', 'eth0'],
      { env },
    );
    // The pod forges what it can: a veth pair named like the representor and the VF's
    // home name, with the VF's MAC.
    await sb.runner.run(
      [
        'ip',
        '-n',
        pod.netns,
        'link',
        'add',
        vf0.representor!,
        'address',
        mac,
        'type',
        'veth',
        'peer',
        'name',
        vf0.netdev!,
        'address',
        mac,
      ],
      { env },
    );
    const want = ['pci', '0000:03:00.2'];
    const none = [undefined, undefined];
    const p = await parents(node, pod.netns);
    expect(p.get('eth0')).toEqual(want);
    expect(p.get(vf0.representor!)).toEqual(none);
    expect(p.get(vf0.netdev!)).toEqual(none);
    expect(p.get('lo')).toEqual(none);

    // Entered by nsenter and by ip netns exec (the stand-in names its own netns).
    for (const argv of [
      ['nsenter', `--net=${pod.path}`, 'ip', '-d', '-j', 'link', 'show'],
      ['ip', 'netns', 'exec', pod.netns, 'ip', '-d', '-j', 'link', 'show'],
    ]) {
      const links = await ipJson(node, argv);
      const shown = new Map(links.map((l) => [l.ifname, l.parentdev]));
      expect(shown.get('eth0'), argv.join(' ')).toBe('0000:03:00.2');
      expect(shown.get(vf0.representor!), argv.join(' ')).toBeUndefined();
      expect(shown.get(vf0.netdev!), argv.join(' ')).toBeUndefined();
      expect(shown.get('lo'), argv.join(' ')).toBeUndefined();
    }

    // Renamed in the pod: still the VF.
    await sb.runner.run(['ip', '-n', pod.netns, 'link', 'set', 'eth0', 'name', 'net9'], { env });
    expect((await parents(node, pod.netns)).get('net9')).toEqual(want);
    const text = await ipText(node, ['ip', '-n', pod.netns, '-d', 'link', 'show']);
    expect(text).toMatch(
      /^\d+: net9@if\d+: .*\n.* link-netns .*\n(.*\n)*.*parentbus pci parentdev 0000:03:00\.2 $/m,
    );
    expect(text.match(/parentbus/g)).toHaveLength(1);

    // The host still has the representor (the PF's child) and the other VF; no trace of VF 0.
    const h = await parents(node, host(sb));
    expect(h.get(vf0.representor!)).toEqual(['pci', '0000:03:00.0']);
    expect(h.get(pf.vfs[1]!.netdev!)).toEqual(['pci', '0000:03:00.3']);
    expect([...h.values()].filter(([, dev]) => dev === '0000:03:00.2')).toEqual([]);
  });

  it("another node's stand-in does not claim this node's VF, though their ifindexes may match", async () => {
    const a = await newNode({ nic: { vfsPerPf: 1 } });
    const b = await newNode({ nic: { vfsPerPf: 1 } });
    const vfA = (await a.nic.state()).pfs[0]!.vfs[0]!;
    const vfB = (await b.nic.state()).pfs[0]!.vfs[0]!;
    const podA = await a.sb.makePod('a');
    const podB = await b.sb.makePod('b');
    for (const [n, vf, pod] of [
      [a, vfA, podA],
      [b, vfB, podB],
    ] as const) {
      await n.sb.ip.run({ name: n.sb.hostNetns }, [
        'link',
        'set',
        'dev',
        vf.netdev!,
        'netns',
        pod.netns,
        'name',
        'eth0',
      ]);
    }
    expect((await parents(a, podA.netns)).get('eth0')).toEqual(['pci', vfA.pci]);
    expect((await parents(b, podB.netns)).get('eth0')).toEqual(['pci', vfB.pci]);
    // b's NIC asked about a's pod: its VF is not there.
    expect((await parents(b, podA.netns)).get('eth0')).toEqual([undefined, undefined]);
  });

  it('legacy: VF netdevs and the uplink have parents, the eswitch-internal ends do not; an unbound VF shows nowhere', async () => {
    const node = await newNode({ nic: { vfsPerPf: 2, eswitchMode: 'legacy' } });
    const { sb, nic } = node;
    const st = (await nic.state()).pfs[0]!;
    const p = await parents(node, host(sb));
    expect(p.get(st.vfs[0]!.netdev!)).toEqual(['pci', '0000:03:00.2']);
    expect(p.get(st.netdev)).toEqual(['pci', '0000:03:00.0']);
    const withParent = [...p].filter(([, [bus]]) => bus === 'pci').map(([n]) => n);
    expect(withParent.sort()).toEqual([st.netdev, st.vfs[0]!.netdev!, st.vfs[1]!.netdev!].sort());

    // Unbound, the VF has no netdev: its end hides in limbo, where it shows no parent.
    const vf1 = st.vfs[1]!;
    await writeFile(path.join(nic.sysfsRoot, 'sys/bus/pci/drivers/mlx5_core/unbind'), vf1.pci);
    await eventually(async () => (await nic.state()).pfs[0]!.vfs[1]!.driver === null);
    await nic.sync();
    const after = await parents(node, host(sb));
    expect([...after.values()].filter(([, dev]) => dev === vf1.pci)).toEqual([]);
    const limbo = await parents(node, limboNetnsName(sb.id));
    expect([...limbo.values()].filter(([bus]) => bus !== undefined)).toEqual([]);
  });
});
