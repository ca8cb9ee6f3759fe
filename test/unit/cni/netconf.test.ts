import { describe, expect, it } from 'vitest';
import { CniError } from '../../../src/cni/errors.js';
import { checkCniArgs, parseCniArgs, readCniEnv } from '../../../src/cni/env.js';
import { deviceIdOf, ifaceIdOf, parseNetConf } from '../../../src/cni/netconf.js';
import { assertCommandAllowed, convertResult } from '../../../src/cni/version.js';

const base = {
  cniVersion: '1.0.0',
  name: 'sriov-net1',
  type: 'ovs-offload-cni',
  server_socket: '/run/ovs-offload/cni.sock',
};

describe('NetConf', () => {
  it('accepts a Multus-style config and prefers runtimeConfig.deviceID', () => {
    const c = parseNetConf({
      ...base,
      deviceID: '0000:03:00.2',
      runtimeConfig: { deviceID: '0000:03:00.5' },
      provider: 'sriov-net1.default.ovn',
    });
    expect(deviceIdOf(c)).toBe('0000:03:00.5');
    expect(deviceIdOf(parseNetConf({ ...base, deviceID: '0000:D8:00.2' }))).toBe('0000:d8:00.2');
  });

  it('keeps unknown keys of chained configs (prevResult, args, capabilities)', () => {
    const c = parseNetConf({ ...base, prevResult: { cniVersion: '1.0.0' }, args: { cni: {} } });
    expect(c.prevResult).toEqual({ cniVersion: '1.0.0' });
  });

  it.each([
    [{ server_socket: undefined }, /server_socket: required/],
    [{ type: 'sriov' }, /type: must be "ovs-offload-cni"/],
    [{ deviceID: 'eth0' }, /deviceID: not a PCI address/],
    [{ vlan: 4095 }, /vlan: must be an integer in 0\.\.4094/],
    [{ vlan: 1.5 }, /vlan: must be an integer/],
    [{ mode: 'fast' }, /mode: must be one of "auto", "offload", "legacy"/],
    [{ provider: 'kube-ovn' }, /provider: must be "ovn" or "<nad>\.<namespace>\.ovn"/],
    [{ spoofchk: true }, /spoofchk: must be one of "on", "off"/],
    [{ vlanQoS: 3 }, /vlanQoS: needs a non-zero "vlan"/],
    [{ min_tx_rate: 200, max_tx_rate: 100 }, /min_tx_rate: greater than max_tx_rate/],
    [{ ipam: { subnet: '10.0.0.0/24' } }, /ipam\.type: required/],
    [{ mac: '01:02:03' }, /mac: not a MAC address/],
    [{ name: 'my net' }, /name: must be letters, digits/],
    [{ server_socket: '/' + 's'.repeat(107) }, /server_socket: longer than a unix socket path/],
    [{ server_socket: '/run/a\u0000b' }, /server_socket: must not contain a NUL/],
    [{ bridge: 'é'.repeat(8) }, /bridge: not a valid bridge name/],
    [{ prevResult: null }, /prevResult: must be an object/],
    [{ 'cni.dev/valid-attachments': 'all' }, /cni\.dev\/valid-attachments: must be a list/],
    [{ 'cni.dev/valid-attachments': [{ containerID: 'c' }] }, /valid-attachments\[0\]\.ifname/],
  ])('rejects %j with code 7 naming the field', (patch, re) => {
    const err = (() => {
      try {
        parseNetConf({ ...base, ...patch });
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(CniError);
    expect((err as CniError).code).toBe(7);
    expect((err as CniError).message).toMatch(re);
  });

  it('derives the Kube-OVN iface-id from the provider', () => {
    expect(ifaceIdOf(undefined, 'web-0', 'default')).toBe('web-0.default');
    expect(ifaceIdOf('ovn', 'web-0', 'default')).toBe('web-0.default');
    expect(ifaceIdOf('sriov-net1.default.ovn', 'web-0', 'prod')).toBe(
      'web-0.prod.sriov-net1.default.ovn',
    );
  });
});

describe('CNI environment', () => {
  const env = {
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: 'abc',
    CNI_NETNS: '/var/run/netns/x',
    CNI_IFNAME: 'net1',
    CNI_PATH: '/opt/cni/bin',
    CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_UID=u-1',
  };

  it('parses CNI_ARGS, keeping values with "="', () => {
    expect(parseCniArgs('A=1;B=x=y;;C=')).toEqual({ A: '1', B: 'x=y', C: '' });
    expect(() => parseCniArgs('novalue')).toThrow(/CNI_ARGS: invalid pair/);
    expect(Object.keys(parseCniArgs('__proto__=x'))).toEqual(['__proto__']);
  });

  it('refuses unknown CNI_ARGS keys unless IgnoreUnknown is true, as libcni does', () => {
    const known = parseCniArgs('K8S_POD_NAME=a;K8S_POD_NAMESPACE=b;K8S_POD_UID=c;IP=10.0.0.5');
    expect(() => checkCniArgs(known)).not.toThrow();
    expect(() => checkCniArgs(parseCniArgs('K8S_POD_NAME=a;FOO=1'))).toThrow(
      /CNI_ARGS: unknown args "FOO"/,
    );
    expect(() => checkCniArgs(parseCniArgs('IgnoreUnknown=0;FOO=1'))).toThrow(/unknown args/);
    for (const yes of ['1', 'true', 'TRUE', 'True'])
      expect(() => checkCniArgs(parseCniArgs(`IgnoreUnknown=${yes};FOO=1`))).not.toThrow();
    expect(() => checkCniArgs(parseCniArgs('IgnoreUnknown=yes'))).toThrow(
      /IgnoreUnknown: "yes" is not 1, true, 0 or false/,
    );
  });

  it('reads what ADD needs and demands the pod identity', () => {
    expect(readCniEnv(env)).toMatchObject({
      command: 'ADD',
      ifName: 'net1',
      args: { K8S_POD_NAME: 'web-0', K8S_POD_UID: 'u-1' },
    });
    expect(() => readCniEnv({ ...env, CNI_ARGS: 'K8S_POD_NAME=a' })).toThrow(
      /K8S_POD_NAMESPACE is required/,
    );
  });

  it.each([
    [{ CNI_COMMAND: 'FROB' }, /CNI_COMMAND: unknown command "FROB"/],
    [{ CNI_IFNAME: 'net/1' }, /CNI_IFNAME: "net\/1" is not a valid interface name/],
    [{ CNI_CONTAINERID: '' }, /CNI_CONTAINERID is required/],
    [{ CNI_NETNS: 'relative' }, /CNI_NETNS: "relative" is not an absolute path/],
    [{ CNI_COMMAND: undefined }, /CNI_COMMAND is required/],
    [{ CNI_IFNAME: '', CNI_PATH: '' }, /CNI_IFNAME, CNI_PATH are required/],
    [{ CNI_CONTAINERID: 'a/b' }, /CNI_CONTAINERID: "a\/b" is not a container ID/],
    [{ CNI_IFNAME: '..' }, /CNI_IFNAME: "\.\." is not a valid interface name: it may not be/],
    [{ CNI_IFNAME: 'é'.repeat(8) }, /it is 16 bytes long, at most 15/],
    [{ CNI_IFNAME: 'netà' }, /may not contain '\/', ':' or whitespace/],
    [{ CNI_ARGS: 'K8S_POD_NAMESPACE=d;K8S_POD_NAME=p;X=1' }, /CNI_ARGS: unknown args "X"/],
  ])('rejects %j with code 4', (patch, re) => {
    expect(() => readCniEnv({ ...env, ...patch })).toThrow(re);
  });

  it('takes container IDs of any length (the spec sets none)', () => {
    expect(readCniEnv({ ...env, CNI_CONTAINERID: 'f'.repeat(1024) }).containerID).toHaveLength(
      1024,
    );
  });

  it('lets DEL run without a netns (it may be gone)', () => {
    expect(readCniEnv({ ...env, CNI_COMMAND: 'DEL', CNI_NETNS: '' }).netns).toBe('');
  });
});

describe('versions', () => {
  it('refuses CHECK before 0.4.0 and STATUS/GC before 1.1.0 with code 1', () => {
    expect(() => assertCommandAllowed('CHECK', '0.3.1')).toThrow(/does not allow CHECK/);
    expect(() => assertCommandAllowed('GC', '1.0.0')).toThrow(/does not allow GC/);
    expect(() => assertCommandAllowed('ADD', '0.3.1')).not.toThrow();
  });

  it('converts a 1.1.0 result down to 0.4.0 / 1.0.0', () => {
    const r = {
      cniVersion: '1.1.0',
      interfaces: [
        {
          name: 'net1',
          mac: '0a:00:00:00:00:01',
          sandbox: '/var/run/netns/x',
          pciID: '0000:03:00.2',
        },
      ],
      ips: [
        { address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 0 },
        { address: 'fd00::5/64', interface: 0 },
      ],
      routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1', mtu: 1400 }],
    };
    expect(convertResult(r, '0.4.0')).toEqual({
      cniVersion: '0.4.0',
      interfaces: [{ name: 'net1', mac: '0a:00:00:00:00:01', sandbox: '/var/run/netns/x' }],
      ips: [
        { address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 0, version: '4' },
        { address: 'fd00::5/64', interface: 0, version: '6' },
      ],
      routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }],
    });
    expect(convertResult(r, '1.1.0')).toEqual({ ...r });
    expect(convertResult(r, '1.0.0').interfaces?.[0]).not.toHaveProperty('pciID');
  });
});
