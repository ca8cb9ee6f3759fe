import { describe, expect, it } from 'vitest';
import {
  decideMtu,
  encapOverhead,
  linkHoldingAddress,
  readOvnEncap,
  type MtuInputs,
  type OvnEncap,
} from '../../../src/agent/attach/mtu.js';
import { InvalidInputError, Ip } from '../../../src/sys/index.js';
import { RecordingRunner } from '../../helpers/recording-runner.js';

const geneve9000: OvnEncap = {
  type: 'geneve',
  ip: '10.0.0.5',
  link: { name: 'eth1', mtu: 9000 },
};
const base: MtuInputs = { uplinkMtu: 9000, vfMtu: 1500 };

describe('decideMtu: precedence NetConf > Subnet > OVN encap > the VF', () => {
  const cases: {
    name: string;
    in: Partial<MtuInputs>;
    mtu: number | null;
    source: string;
  }[] = [
    {
      name: 'NetConf mtu wins over everything',
      in: { netconf: 1450, subnet: { name: 's1', mtu: 1300 }, encap: geneve9000 },
      mtu: 1450,
      source: 'netconf',
    },
    {
      name: 'Subnet spec.mtu wins over the encap',
      in: { subnet: { name: 's1', mtu: 1300 }, encap: geneve9000 },
      mtu: 1300,
      source: 'subnet',
    },
    {
      name: 'Subnet spec.mtu 0 is unset: the encap decides',
      in: { subnet: { name: 's1', mtu: 0 }, encap: geneve9000 },
      mtu: 8900,
      source: 'encap',
    },
    { name: 'geneve: encap MTU - 100', in: { encap: geneve9000 }, mtu: 8900, source: 'encap' },
    {
      name: 'vxlan: - 50',
      in: { encap: { ...geneve9000, type: 'vxlan' } },
      mtu: 8950,
      source: 'encap',
    },
    {
      name: 'stt: - 72',
      in: { encap: { ...geneve9000, type: 'stt' } },
      mtu: 8928,
      source: 'encap',
    },
    {
      name: 'IPv6 encap address: 20 more',
      in: { encap: { ...geneve9000, ip: 'fd00::5' } },
      mtu: 8880,
      source: 'encap',
    },
    {
      name: 'capped at the uplink MTU',
      in: { encap: geneve9000, uplinkMtu: 1500 },
      mtu: 1500,
      source: 'encap',
    },
    {
      name: 'a 1500 tunnel interface gives 1400 (Kube-OVN on a plain Ethernet node)',
      in: { encap: { ...geneve9000, link: { name: 'eth0', mtu: 1500 } } },
      mtu: 1400,
      source: 'encap',
    },
    {
      name: 'no interface holds the encap IP: the VF keeps its own',
      in: { encap: { ...geneve9000, link: null } },
      mtu: null,
      source: 'vf',
    },
    {
      name: 'an encap type Kube-OVN does not know: the VF keeps its own',
      in: { encap: { ...geneve9000, type: 'gre' } },
      mtu: null,
      source: 'vf',
    },
    { name: 'not OVN-managed, nothing explicit: the VF', in: {}, mtu: null, source: 'vf' },
    {
      name: 'unknown uplink MTU: not capped',
      in: { encap: geneve9000, uplinkMtu: null },
      mtu: 8900,
      source: 'encap',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decideMtu({ ...base, ...c.in });
      expect({ mtu: d.mtu, source: d.source }).toEqual({ mtu: c.mtu, source: c.source });
    });
  }

  it('refuses a NetConf mtu above the uplink MTU, naming the field', () => {
    expect(() => decideMtu({ ...base, uplinkMtu: 1500, netconf: 9000 })).toThrow(InvalidInputError);
    expect(() => decideMtu({ ...base, uplinkMtu: 1500, netconf: 9000 })).toThrow(
      /^mtu: 9000 is above the PF uplink's MTU 1500/,
    );
  });

  it('refuses a Subnet spec.mtu above the uplink MTU', () => {
    expect(() =>
      decideMtu({ ...base, uplinkMtu: 1500, subnet: { name: 'ovn-default', mtu: 9000 } }),
    ).toThrow(/^Subnet ovn-default spec\.mtu: 9000 is above/);
  });

  it('takes an explicit MTU equal to the uplink MTU', () => {
    expect(decideMtu({ ...base, uplinkMtu: 1500, netconf: 1500 }).mtu).toBe(1500);
  });
});

describe('encapOverhead', () => {
  it('counts as Kube-OVN counts (pkg/util/const.go)', () => {
    expect(encapOverhead('geneve', false)).toBe(100);
    expect(encapOverhead('GENEVE', true)).toBe(120);
    expect(encapOverhead('vxlan', false)).toBe(50);
    expect(encapOverhead('stt', true)).toBe(92);
    expect(encapOverhead('gre', false)).toBeNull();
  });
});

const addrJson = JSON.stringify([
  { ifindex: 1, ifname: 'lo', mtu: 65536, addr_info: [{ family: 'inet', local: '127.0.0.1' }] },
  {
    ifindex: 3,
    ifname: 'eth1',
    mtu: 9000,
    addr_info: [
      { family: 'inet', local: '10.0.0.5', prefixlen: 24 },
      { family: 'inet6', local: 'fd00::5', prefixlen: 64 },
    ],
  },
]);

describe('readOvnEncap', () => {
  const ip = () => new Ip(new RecordingRunner().on(/^ip -j addr show$/, { stdout: addrJson }));

  it('finds the interface holding the first ovn-encap-ip', async () => {
    expect(
      await readOvnEncap(ip(), {
        'ovn-remote': 'tcp:10.0.0.1:6642',
        'ovn-encap-ip': '10.0.0.5,10.0.0.6',
        'ovn-encap-type': 'geneve',
      }),
    ).toEqual(geneve9000);
  });

  it('matches IPv6 addresses case-insensitively; geneve when the type is unset', async () => {
    expect(
      await readOvnEncap(ip(), { 'ovn-remote': 'unix:/sb.sock', 'ovn-encap-ip': 'FD00::5' }),
    ).toEqual({ type: 'geneve', ip: 'FD00::5', link: { name: 'eth1', mtu: 9000 } });
  });

  it('is null on a node OVN does not manage, or without an encap IP', async () => {
    expect(await readOvnEncap(ip(), { 'ovn-encap-ip': '10.0.0.5' })).toBeNull();
    expect(await readOvnEncap(ip(), { 'ovn-remote': 'unix:/sb.sock' })).toBeNull();
  });

  it('no interface with the address: link null', async () => {
    expect(await linkHoldingAddress(ip(), '10.9.9.9')).toBeNull();
  });
});
