import * as path from 'node:path';
import { readFile, readlink, readdir, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { eventually, newNode } from '../helpers/sandbox.js';

/** Self-tests of src/sandbox: the emulated node behaves like the kernel where we depend on it. */

const sys = (root: string, rel: string) => path.join(root, 'sys', rel);
const exists = (p: string) =>
  readlink(p).then(
    () => true,
    () =>
      readdir(p).then(
        () => true,
        () => false,
      ),
  );

describe('sandbox: OVS + emulated switchdev NIC', () => {
  it('moves two VFs into pods, puts their representors on a netdev br-int, and the pods ping', async () => {
    const { sb, ovs, nic } = await newNode({ nic: { identity: 'mlx5', vfsPerPf: 2 } });
    const pf = (await nic.state()).pfs[0]!;
    expect(pf.mode).toBe('switchdev');
    expect(pf.vfs.map((v) => v.pci)).toEqual(['0000:03:00.2', '0000:03:00.3']);
    const pods = [await sb.makePod('a'), await sb.makePod('b')];
    for (const [i, pod] of pods.entries()) {
      const vf = pf.vfs[i]!;
      await ovs.vsctl(['add-port', 'br-int', vf.representor!]);
      await sb.ip.run({ name: sb.hostNetns }, ['link', 'set', vf.representor!, 'up']);
      await sb.ip.run({ name: sb.hostNetns }, ['link', 'set', vf.netdev!, 'netns', pod.netns]);
      await sb.ip.batch({ name: pod.netns }, [
        ['link', 'set', vf.netdev!, 'name', 'net1'],
        ['addr', 'add', `10.55.0.${i + 1}/24`, 'dev', 'net1'],
        ['link', 'set', 'net1', 'up'],
      ]);
    }
    const r = await sb.execInPod(pods[0]!, [
      'ping',
      '-c',
      '2',
      '-i',
      '0.2',
      '-W',
      '2',
      '10.55.0.2',
    ]);
    expect(r.stdout).toContain('2 received');
    // The VF left the host: the watcher removed its netdev from the emulated tree.
    await eventually(
      async () =>
        (await readdir(sys(nic.sysfsRoot, 'bus/pci/devices/0000:03:00.2/net'))).length === 0,
    );
    expect(await exists(sys(nic.sysfsRoot, `class/net/${pf.vfs[0]!.netdev!}`))).toBe(false);
    const flows = await ovs.appctl(['dpctl/dump-flows', '-m', 'type=all']);
    expect(flows.stdout).toMatch(/dp:ovs/);
  });

  it('shapes the tree like the kernel: ids, virtfn/physfn links, representors under the PF', async () => {
    const { sb, nic } = await newNode({ nic: { identity: 'mlx5', vfsPerPf: 3 } });
    const root = nic.sysfsRoot;
    const pfDir = sys(root, 'bus/pci/devices/0000:03:00.0');
    expect((await readFile(path.join(pfDir, 'vendor'), 'utf8')).trim()).toBe('0x15b3');
    expect((await readFile(path.join(pfDir, 'device'), 'utf8')).trim()).toBe('0x1017');
    expect((await readFile(path.join(pfDir, 'class'), 'utf8')).trim()).toBe('0x020000');
    expect(path.basename(await readlink(path.join(pfDir, 'driver')))).toBe('mlx5_core');
    expect(await readlink(path.join(pfDir, 'virtfn2'))).toBe('../0000:03:00.4');
    expect(await readlink(sys(root, 'bus/pci/devices/0000:03:00.4/physfn'))).toBe(
      '../0000:03:00.0',
    );
    const net = (await readdir(path.join(pfDir, 'net'))).sort();
    const up = nic.uplink(0);
    expect(net).toEqual([up, `${up}_0`, `${up}_1`, `${up}_2`].sort());
    expect((await readFile(path.join(pfDir, `net/${up}/phys_port_name`), 'utf8')).trim()).toBe(
      'p0',
    );
    expect((await readFile(path.join(pfDir, `net/${up}_1/phys_port_name`), 'utf8')).trim()).toBe(
      'pf0vf1',
    );
    const sw = (await readFile(path.join(pfDir, `net/${up}/phys_switch_id`), 'utf8')).trim();
    expect((await readFile(path.join(pfDir, `net/${up}_2/phys_switch_id`), 'utf8')).trim()).toBe(
      sw,
    );
    // live attribute: pulling the cable shows through the tree
    expect((await readFile(path.join(pfDir, `net/${up}/operstate`), 'utf8')).trim()).toBe('up');
    await sb.ip.run({ name: sb.hostNetns }, ['link', 'set', nic.wire(0), 'down']);
    expect((await readFile(path.join(pfDir, `net/${up}/operstate`), 'utf8')).trim()).not.toBe('up');
  });

  it('acts on sriov_numvfs like the kernel: 0→N creates, N→M is refused (EBUSY), N→0 removes', async () => {
    const { nic } = await newNode({ nic: { identity: 'e810', vfsPerPf: 0, totalVfs: 8 } });
    const pfDir = sys(nic.sysfsRoot, 'bus/pci/devices/0000:03:00.0');
    await writeFile(path.join(pfDir, 'sriov_numvfs'), '4');
    await eventually(() => exists(path.join(pfDir, 'virtfn3')));
    const st = await nic.state();
    expect(st.pfs[0]!.vfs).toHaveLength(4);
    expect(
      path.basename(
        await readlink(sys(nic.sysfsRoot, `bus/pci/devices/${st.pfs[0]!.vfs[0]!.pci}/driver`)),
      ),
    ).toBe('iavf');
    await writeFile(path.join(pfDir, 'sriov_numvfs'), '6');
    await eventually(async () => (await nic.calls('sysfs')).some((c) => c.note?.includes('EBUSY')));
    expect((await readFile(path.join(pfDir, 'sriov_numvfs'), 'utf8')).trim()).toBe('4');
    await writeFile(path.join(pfDir, 'sriov_numvfs'), '0');
    await eventually(async () => !(await exists(path.join(pfDir, 'virtfn0'))));
    expect((await nic.state()).pfs[0]!.vfs).toHaveLength(0);
  });

  it('binds and unbinds VF drivers through bus/pci/drivers/*/bind|unbind', async () => {
    const { nic } = await newNode({ nic: { vfsPerPf: 2 } });
    const root = nic.sysfsRoot;
    const vf = '0000:03:00.3';
    await writeFile(sys(root, 'bus/pci/drivers/mlx5_core/unbind'), vf);
    await eventually(async () => !(await exists(sys(root, `bus/pci/devices/${vf}/driver`))));
    await eventually(
      async () => (await readdir(sys(root, `bus/pci/devices/${vf}/net`))).length === 0,
    );
    await writeFile(sys(root, `bus/pci/devices/${vf}/driver_override`), 'vfio-pci');
    await writeFile(sys(root, 'bus/pci/drivers/vfio-pci/bind'), vf);
    await eventually(
      async () =>
        path.basename(await readlink(sys(root, `bus/pci/devices/${vf}/driver`))) === 'vfio-pci',
    );
    expect(await readdir(sys(root, `bus/pci/devices/${vf}/net`))).toEqual([]);
    await writeFile(sys(root, 'bus/pci/drivers/vfio-pci/unbind'), vf);
    await eventually(async () => !(await exists(sys(root, `bus/pci/devices/${vf}/driver`))));
    await writeFile(sys(root, `bus/pci/devices/${vf}/driver_override`), '(null)');
    await writeFile(sys(root, 'bus/pci/drivers/mlx5_core/bind'), vf);
    await eventually(
      async () => (await readdir(sys(root, `bus/pci/devices/${vf}/net`))).length === 1,
    );
  });

  it('returns a VF to the host when its pod netns is destroyed (in-pod name, or dev<ifindex> if taken)', async () => {
    const { sb, nic } = await newNode({ nic: { vfsPerPf: 2 } });
    const pf = (await nic.state()).pfs[0]!;
    const [podA, podB] = [await sb.makePod('a'), await sb.makePod('b')];
    await sb.ip.run({ name: sb.hostNetns }, [
      'link',
      'set',
      pf.vfs[0]!.netdev!,
      'netns',
      podA.netns,
    ]);
    await sb.ip.run({ name: podA.netns }, ['link', 'set', pf.vfs[0]!.netdev!, 'name', 'net1']);
    await sb.ip.run({ name: sb.hostNetns }, [
      'link',
      'set',
      pf.vfs[1]!.netdev!,
      'netns',
      podB.netns,
    ]);
    // "net1" is taken on the host when the second VF comes home
    await sb.ip.run({ name: podB.netns }, ['link', 'set', pf.vfs[1]!.netdev!, 'name', 'net1']);
    expect(await nic.destroyPodNetns(podA)).toEqual(['net1']);
    await eventually(async () =>
      (await readdir(sys(nic.sysfsRoot, `bus/pci/devices/${pf.vfs[0]!.pci}/net`))).includes('net1'),
    );
    const back = await nic.destroyPodNetns(podB);
    expect(back[0]).toMatch(/^dev\d+$/);
    await eventually(async () =>
      (await readdir(sys(nic.sysfsRoot, `bus/pci/devices/${pf.vfs[1]!.pci}/net`))).includes(
        back[0]!,
      ),
    );
    const st = await nic.state();
    expect(st.pfs[0]!.vfs.map((v) => v.netdev)).toEqual(['net1', back[0]]);
    expect(st.pfs[0]!.vfs.every((v) => v.representor !== null)).toBe(true);
  });

  it('answers devlink: eswitch show/set with representors appearing, port show, and the fault knob', async () => {
    const { sb, nic } = await newNode({ nic: { vfsPerPf: 2, eswitchMode: 'legacy' } });
    const env = { PATH: nic.path };
    const show = await sb.runner.run(
      ['devlink', '-j', 'dev', 'eswitch', 'show', 'pci/0000:03:00.0'],
      { env },
    );
    expect(JSON.parse(show.stdout)).toEqual({
      dev: { 'pci/0000:03:00.0': { mode: 'legacy', 'inline-mode': 'none', 'encap-mode': 'basic' } },
    });
    const pfDir = sys(nic.sysfsRoot, 'bus/pci/devices/0000:03:00.0');
    expect(await readdir(path.join(pfDir, 'net'))).toEqual([nic.uplink(0)]);
    // mlx5 refuses while VF drivers are bound
    await expect(
      sb.runner.run(['devlink', 'dev', 'eswitch', 'set', 'pci/0000:03:00.0', 'mode', 'switchdev'], {
        env,
      }),
    ).rejects.toThrow(/bound/);
    for (const vf of ['0000:03:00.2', '0000:03:00.3']) {
      await writeFile(sys(nic.sysfsRoot, 'bus/pci/drivers/mlx5_core/unbind'), vf);
      await eventually(
        async () => !(await exists(sys(nic.sysfsRoot, `bus/pci/devices/${vf}/driver`))),
      );
    }
    await nic.setFault({
      refuseMode: {
        mode: 'switchdev',
        when: 'vfsExist',
        message: 'firmware 26.42: not with VFs',
        times: 1,
      },
    });
    await expect(
      sb.runner.run(['devlink', 'dev', 'eswitch', 'set', 'pci/0000:03:00.0', 'mode', 'switchdev'], {
        env,
      }),
    ).rejects.toThrow(/26\.42/);
    await sb.runner.run(
      ['devlink', 'dev', 'eswitch', 'set', 'pci/0000:03:00.0', 'mode', 'switchdev'],
      { env },
    );
    await eventually(async () => (await readdir(path.join(pfDir, 'net'))).length === 3);
    const ports = JSON.parse(
      (await sb.runner.run(['devlink', '-j', 'port', 'show'], { env })).stdout,
    ) as { port: Record<string, Record<string, unknown>> };
    expect(ports.port['pci/0000:03:00.0/65535']).toMatchObject({
      flavour: 'physical',
      netdev: nic.uplink(0),
    });
    expect(ports.port['pci/0000:03:00.0/2']).toMatchObject({
      flavour: 'pcivf',
      vfnum: 1,
      controller: 0,
      external: false,
      netdev: `${nic.uplink(0)}_1`,
    });
    const calls = await nic.calls('devlink');
    expect(calls.map((c) => c.code)).toEqual([0, 1, 1, 0, 0]);
  });

  it('answers ip VF knobs and vfinfo_list from the emulated PF; other ip calls pass through', async () => {
    const { sb, nic } = await newNode({ nic: { vfsPerPf: 2, eswitchMode: 'legacy' } });
    const env = { PATH: nic.path };
    const up = nic.uplink(0);
    await sb.runner.run(
      [
        'ip',
        'link',
        'set',
        up,
        'vf',
        '1',
        'mac',
        '0a:11:22:33:44:55',
        'vlan',
        '100',
        'qos',
        '3',
        'spoofchk',
        'off',
        'trust',
        'on',
        'state',
        'disable',
        'max_tx_rate',
        '500',
      ],
      { env },
    );
    await expect(
      sb.runner.run(['ip', 'link', 'set', up, 'vf', '1', 'vlan', '4096'], { env }),
    ).rejects.toThrow(/Invalid argument/);
    await expect(
      sb.runner.run(['ip', 'link', 'set', up, 'vf', '7', 'trust', 'on'], { env }),
    ).rejects.toThrow(/Invalid argument/);
    const shown = JSON.parse(
      (await sb.runner.run(['ip', '-n', sb.hostNetns, '-j', '-d', 'link', 'show', up], { env }))
        .stdout,
    ) as { vfinfo_list: Record<string, unknown>[] }[];
    expect(shown[0]!.vfinfo_list[1]).toMatchObject({
      vf: 1,
      address: '0a:11:22:33:44:55',
      vlan_list: [{ vlan: 100, qos: 3 }],
      rate: { max_tx: 500, min_tx: 0 },
      spoofchk: false,
      trust: true,
      link_state: 'disable',
    });
    const text = await sb.runner.run(['ip', '-n', sb.hostNetns, 'link', 'show', up], { env });
    expect(text.stdout).toMatch(
      /vf 1 +link\/ether 0a:11:22:33:44:55 .*vlan 100, qos 3.*spoof checking off, link-state disable, trust on/,
    );
    expect((await nic.calls('ip')).map((c) => c.code)).toEqual([0, 2, 2]);
  });

  it('answers ethtool hw-tc-offload on uplinks and representors, and can refuse it', async () => {
    const { sb, nic } = await newNode({ nic: { vfsPerPf: 1 } });
    const env = { PATH: nic.path };
    const up = nic.uplink(0);
    await sb.runner.run(['ethtool', '-K', up, 'hw-tc-offload', 'on'], { env });
    expect((await sb.runner.run(['ethtool', '-k', up], { env })).stdout).toMatch(
      /^hw-tc-offload: on$/m,
    );
    await nic.setFault({ refuseHwTcOffload: [`${up}_0`] });
    await expect(
      sb.runner.run(['ethtool', '-K', `${up}_0`, 'hw-tc-offload', 'on'], { env }),
    ).rejects.toThrow(/Could not change/);
    expect((await sb.runner.run(['ethtool', '-k', `${up}_0`], { env })).stdout).toMatch(
      /^hw-tc-offload: off$/m,
    );
  });

  it('in legacy mode hangs VF peers on a bridge (the embedded switch), so legacy VFs reach each other', async () => {
    const { sb, nic } = await newNode({ nic: { vfsPerPf: 2, eswitchMode: 'legacy' } });
    const pf = (await nic.state()).pfs[0]!;
    expect(pf.vfs.every((v) => v.representor === null)).toBe(true);
    const pods = [await sb.makePod('a'), await sb.makePod('b')];
    for (const [i, pod] of pods.entries()) {
      await sb.ip.run({ name: sb.hostNetns }, [
        'link',
        'set',
        pf.vfs[i]!.netdev!,
        'netns',
        pod.netns,
      ]);
      await sb.ip.batch({ name: pod.netns }, [
        ['addr', 'add', `10.56.0.${i + 1}/24`, 'dev', pf.vfs[i]!.netdev!],
        ['link', 'set', pf.vfs[i]!.netdev!, 'up'],
      ]);
    }
    const r = await sb.execInPod(pods[1]!, [
      'ping',
      '-c',
      '2',
      '-i',
      '0.2',
      '-W',
      '2',
      '10.56.0.1',
    ]);
    expect(r.stdout).toContain('2 received');
  });
});

describe('sandbox: OVN', () => {
  it('binds ports by iface-id, sets ovn-installed, and forwards through a logical switch', async () => {
    const { sb, ovs, ovn, nic } = await newNode({ ovn: true, nic: { vfsPerPf: 2 } });
    const pf = (await nic.state()).pfs[0]!;
    await ovn!.createSwitch('ls0');
    const pods = [await sb.makePod('a'), await sb.makePod('b')];
    for (const [i, pod] of pods.entries()) {
      const vf = pf.vfs[i]!;
      const mac = `0a:00:00:00:01:0${i + 1}`;
      await ovn!.addPort('ls0', `${pod.name}.default`, mac, `10.57.0.${i + 1}`);
      await ovs.vsctl([
        'add-port',
        'br-int',
        vf.representor!,
        '--',
        'set',
        'Interface',
        vf.representor!,
        `external_ids:iface-id=${pod.name}.default`,
      ]);
      await sb.ip.run({ name: sb.hostNetns }, ['link', 'set', vf.representor!, 'up']);
      await sb.ip.run({ name: sb.hostNetns }, ['link', 'set', vf.netdev!, 'netns', pod.netns]);
      await sb.ip.batch({ name: pod.netns }, [
        ['link', 'set', vf.netdev!, 'address', mac],
        ['addr', 'add', `10.57.0.${i + 1}/24`, 'dev', vf.netdev!],
        ['link', 'set', vf.netdev!, 'up'],
      ]);
    }
    for (const vf of pf.vfs) {
      await eventually(
        async () =>
          (
            await ovs.vsctl(['get', 'Interface', vf.representor!, 'external_ids:ovn-installed'])
          ).stdout.trim() === '"true"',
        15_000,
        `ovn-installed on ${vf.representor}`,
      );
    }
    const r = await sb.execInPod(pods[0]!, [
      'ping',
      '-c',
      '2',
      '-i',
      '0.2',
      '-W',
      '2',
      '10.57.0.2',
    ]);
    expect(r.stdout).toContain('2 received');
  });
});
