import { describe, expect, it } from 'vitest';
import { cidrNetwork, formatIp, parseCidr, parseIp } from '../../../src/cni/ip.js';
import { parseNetConf } from '../../../src/cni/netconf.js';

const base = {
  cniVersion: '1.0.0',
  name: 'sriov-net1',
  type: 'ovs-offload-cni',
  server_socket: '/run/ovs-offload/cni.sock',
};

describe('IP text', () => {
  it.each([
    ['10.16.0.1', '10.16.0.1'],
    ['0.0.0.0', '0.0.0.0'],
    ['FD00::1', 'fd00::1'],
    ['fd00:0:0:0:0:0:0:1', 'fd00::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
  ])('canonical form of %s is %s', (text, canonical) => {
    const ip = parseIp(text);
    expect(ip).not.toBeNull();
    expect(formatIp(ip!)).toBe(canonical);
  });

  it.each([
    '',
    '10.0.0',
    '10.0.0.256',
    '010.0.0.1',
    '10.0.0.1.2',
    'fd00:::1',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    'fd00::g',
    'eth0',
  ])('%j is not an IP', (text) => {
    expect(parseIp(text)).toBeNull();
  });

  it.each([
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['192.168.1.130/25', '192.168.1.128/25'],
    ['fd00::5/112', 'fd00::/112'],
    ['fd00:1:2:3:4:5:6:7/63', 'fd00:1:2:2::/63'],
    ['::/0', '::/0'],
  ])('the network of %s is %s', (text, net) => {
    expect(cidrNetwork(parseCidr(text)!)).toBe(net);
  });

  it.each(['10.0.0.0', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/08', 'default', '/8'])(
    '%j is not a CIDR',
    (text) => {
      expect(parseCidr(text)).toBeNull();
    },
  );
});

describe('NetConf routes', () => {
  it('accepts [{dst, gw}] and [{dst}] of either family', () => {
    const c = parseNetConf({
      ...base,
      routes: [
        { dst: '0.0.0.0/0', gw: '10.16.0.254' },
        { dst: 'fd00:100::/64', gw: 'fd00::254' },
        { dst: '192.168.0.0/16' },
      ],
    });
    expect(c.routes).toHaveLength(3);
  });

  it.each([
    [{ routes: {} }, /routes: must be a list of \{"dst", "gw"\}/],
    [{ routes: [{ gw: '10.0.0.1' }] }, /routes\[0\]\.dst: required: a CIDR/],
    [{ routes: [{ dst: '10.0.0.0' }] }, /routes\[0\]\.dst: not a CIDR/],
    [{ routes: [{ dst: '10.0.0.0/8', gw: 'router' }] }, /routes\[0\]\.gw: not an IPv4 or IPv6/],
    [
      {
        routes: [
          { dst: '10.0.0.0/8', gw: '10.0.0.1' },
          { dst: '10.0.0.0/8', gw: 'fd00::1' },
        ],
      },
      /routes\[1\]\.gw: fd00::1 is not of the family of dst 10\.0\.0\.0\/8/,
    ],
  ])('refuses %j', (patch, msg) => {
    expect(() => parseNetConf({ ...base, ...patch })).toThrow(msg);
  });
});
