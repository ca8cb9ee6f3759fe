import { describe, expect, it } from 'vitest';
import { CommandError, Ip } from '../../../src/sys/index.js';
import { RecordingRunner } from '../../helpers/recording-runner.js';
import { readVfAdminMac, setVfAdminMac } from '../../../src/vf/index.js';

const ports = JSON.stringify({
  port: {
    'pci/0000:03:00.0/65535': { type: 'eth', netdev: 'p0', flavour: 'physical', port: 0 },
    'pci/0000:03:00.0/1': {
      type: 'eth',
      netdev: 'p0_0',
      flavour: 'pcivf',
      controller: 0,
      pfnum: 0,
      vfnum: 0,
      external: false,
    },
    'pci/0000:03:00.0/2': {
      type: 'eth',
      netdev: 'p0_1',
      flavour: 'pcivf',
      controller: 0,
      pfnum: 0,
      vfnum: 1,
      external: false,
    },
    // A DPU's view of a host VF with the same vfnum: never ours.
    'pci/0000:03:00.0/32769': {
      type: 'eth',
      netdev: 'c1pf0vf1',
      flavour: 'pcivf',
      controller: 1,
      pfnum: 0,
      vfnum: 1,
      external: true,
    },
  },
});
const target = { pfPci: '0000:03:00.0', pfNetdev: 'p0', vfIndex: 1 };

describe('setVfAdminMac', () => {
  it('sets it through the PF first (Kube-OVN setVfMac), one call', async () => {
    const r = new RecordingRunner().on(/^ip link set dev p0 vf 1 mac /, {});
    const ip = new Ip(r);
    expect(await setVfAdminMac(ip, r, target, '0A:00:00:00:00:42')).toBe('pf');
    expect(r.lines()).toEqual(['ip link set dev p0 vf 1 mac 0a:00:00:00:00:42']);
  });

  it('falls back to devlink port function hw_addr on the VF port when the PF refuses', async () => {
    const r = new RecordingRunner()
      .on(/^ip link set dev p0 vf 1 mac /, {
        exitCode: 2,
        stderr: 'RTNETLINK answers: Operation not supported',
      })
      .on(/^devlink -j port show$/, { stdout: ports })
      .on(/^devlink port function set /, {});
    expect(await setVfAdminMac(new Ip(r), r, target, '0a:00:00:00:00:42')).toBe('devlink');
    expect(r.lines().at(-1)).toBe(
      'devlink port function set pci/0000:03:00.0/2 hw_addr 0a:00:00:00:00:42',
    );
  });

  it('uses devlink when the PF has no netdev', async () => {
    const r = new RecordingRunner()
      .on(/^devlink -j port show$/, { stdout: ports })
      .on(/^devlink port function set /, {});
    expect(
      await setVfAdminMac(new Ip(r), r, { ...target, pfNetdev: null }, '0a:00:00:00:00:42'),
    ).toBe('devlink');
  });

  it("throws the PF's refusal when devlink has no port for the VF either", async () => {
    const r = new RecordingRunner()
      .on(/^ip link set /, { exitCode: 2, stderr: 'RTNETLINK answers: Invalid argument' })
      .on(/^devlink -j port show$/, { stdout: JSON.stringify({ port: {} }) });
    await expect(setVfAdminMac(new Ip(r), r, target, '0a:00:00:00:00:42')).rejects.toThrow(
      CommandError,
    );
  });

  it('refuses a multicast MAC before any call', async () => {
    const r = new RecordingRunner();
    await expect(setVfAdminMac(new Ip(r), r, target, '01:00:5e:00:00:01')).rejects.toThrow(
      /multicast/,
    );
    expect(r.calls).toEqual([]);
  });
});

describe('readVfAdminMac', () => {
  it('reads the VF line of vfinfo_list', async () => {
    const show = JSON.stringify([
      {
        ifname: 'p0',
        vfinfo_list: [
          { vf: 0, address: '00:00:00:00:00:00' },
          { vf: 1, address: '0A:00:00:00:00:07' },
        ],
      },
    ]);
    const r = new RecordingRunner().on(/^ip -j -d link show dev p0$/, { stdout: show });
    expect(await readVfAdminMac(new Ip(r), 'p0', 1)).toBe('0a:00:00:00:00:07');
  });
});
