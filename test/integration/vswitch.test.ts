import { access } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InterfaceError,
  isRetryable,
  PortConflictError,
  PortNotOwnedError,
} from '../../src/ovs/errors.js';
import { OvsdbClient } from '../../src/ovs/ovsdb/index.js';
import { OWNER_KEY, Vswitch } from '../../src/ovs/vswitch.js';
import { startOvn, startOvs, type OvsInstance, type Sandbox } from '../../src/sandbox/index.js';
import { NotFoundError } from '../../src/sys/index.js';
import { eventually, newSandbox } from '../helpers/sandbox.js';

/** The vswitch API against a real ovsdb-server + ovs-vswitchd (and OVN) from src/sandbox. */

const netnsExists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** external_ids of a row as ovs-vsctl prints them, parsed ({a=b, "c"="d e"}). */
async function vsctlMap(ovs: OvsInstance, table: string, record: string, column: string) {
  const out = (await ovs.vsctl(['--format=json', 'get', table, record, column])).stdout.trim();
  const text = out.replace(/^\{|\}$/g, '');
  const map: Record<string, string> = {};
  for (const m of text.matchAll(/("(?:[^"\\]|\\.)*"|[^=,\s]+)=("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const unq = (s: string) => (s.startsWith('"') ? (JSON.parse(s) as string) : s);
    map[unq(m[1]!)] = unq(m[2]!.trim());
  }
  return map;
}

describe('Vswitch on a real Open vSwitch', () => {
  let sb: Sandbox;
  let ovs: OvsInstance;
  let client: OvsdbClient;
  let vs: Vswitch;
  const owner = 'node-it';

  beforeAll(async () => {
    sb = await newSandbox();
    ovs = await startOvs(sb);
    client = await OvsdbClient.connect(ovs.dbTarget);
    vs = new Vswitch(client, { owner });
    expect(await vs.ensureBridge('br-int', { datapathType: 'netdev' })).toMatchObject({
      created: true,
    });
  });
  afterAll(async () => {
    await vs?.close();
    await client?.close();
  });

  it('ensureBridge creates a bridge once, like add-br, and leaves an existing one alone', async () => {
    const first = await vs.ensureBridge('br-ex', { datapathType: 'netdev' });
    expect(first.created).toBe(true);
    expect(await vs.ensureBridge('br-ex', { datapathType: 'netdev' })).toEqual({
      uuid: first.uuid,
      created: false,
    });
    expect((await ovs.vsctl(['list-br'])).stdout.split('\n')).toEqual(
      expect.arrayContaining(['br-ex', 'br-int']),
    );
    expect((await ovs.vsctl(['get', 'Bridge', 'br-ex', 'datapath_type'])).stdout.trim()).toBe(
      'netdev',
    );
    // an existing bridge is not ours to reconfigure: another datapath type is only logged
    expect((await vs.ensureBridge('br-ex', { datapathType: 'system' })).created).toBe(false);
    expect((await ovs.vsctl(['get', 'Bridge', 'br-ex', 'datapath_type'])).stdout.trim()).toBe(
      'netdev',
    );
    // add-br's internal port of the same name comes with it
    expect((await ovs.vsctl(['get', 'Interface', 'br-ex', 'type'])).stdout.trim()).toBe('internal');
  });

  it('attaches a port with its external_ids and owner key, and it gets an ofport', async () => {
    const ids = {
      'iface-id': 'web-0.default',
      vendor: 'ovs-offload',
      pod_name: 'web-0',
      pod_namespace: 'default',
      pod_netns: '/var/run/netns/cni-0000',
      ip: '10.16.0.5/16',
    };
    const r = await vs.attachPort({
      bridge: 'br-int',
      name: 'att0',
      type: 'internal',
      interfaceExternalIds: ids,
      portExternalIds: { pod: 'default/web-0' },
      tag: 10,
      mtuRequest: 1400,
    });
    expect(r.created).toBe(true);
    expect((await ovs.vsctl(['list-ports', 'br-int'])).stdout.split('\n')).toContain('att0');
    expect(await vsctlMap(ovs, 'Interface', 'att0', 'external_ids')).toEqual({
      ...ids,
      [OWNER_KEY]: owner,
    });
    expect(await vsctlMap(ovs, 'Port', 'att0', 'external_ids')).toEqual({
      pod: 'default/web-0',
      [OWNER_KEY]: owner,
    });
    expect((await ovs.vsctl(['get', 'Port', 'att0', 'tag'])).stdout.trim()).toBe('10');
    expect((await ovs.vsctl(['get', 'Port', 'att0', '_uuid'])).stdout.trim()).toBe(r.portUuid);
    expect((await ovs.vsctl(['get', 'Interface', 'att0', '_uuid'])).stdout.trim()).toBe(
      r.interfaceUuid,
    );
    const ofport = await vs.waitForOfport('att0', 10_000);
    expect(ofport).toBeGreaterThan(0);
    expect((await ovs.vsctl(['get', 'Interface', 'att0', 'ofport'])).stdout.trim()).toBe(
      String(ofport),
    );
    expect(await vs.getPortBridge('att0')).toBe('br-int');
  });

  it('a second attach of the same name is a no-op; on another bridge it is a conflict', async () => {
    const req = {
      bridge: 'br-int',
      name: 'att1',
      type: 'internal',
      interfaceExternalIds: { 'iface-id': 'a' },
    };
    const first = await vs.attachPort(req);
    const again = await vs.attachPort({ ...req, interfaceExternalIds: { 'iface-id': 'changed' } });
    expect(again).toEqual({ ...first, created: false });
    expect((await vsctlMap(ovs, 'Interface', 'att1', 'external_ids'))['iface-id']).toBe('a');
    const ports = (await ovs.vsctl(['list-ports', 'br-int'])).stdout.split('\n');
    expect(ports.filter((p) => p === 'att1')).toHaveLength(1);
    await vs.ensureBridge('br-other', { datapathType: 'netdev' });
    const e = await vs.attachPort({ ...req, bridge: 'br-other' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PortConflictError);
    expect((await ovs.vsctl(['list-ports', 'br-other'])).stdout.trim()).toBe('');
  });

  it('concurrent attaches of one name create one port', async () => {
    const req = { bridge: 'br-int', name: 'att2', type: 'internal', interfaceExternalIds: {} };
    const rs = await Promise.all([1, 2, 3, 4].map(() => vs.attachPort(req)));
    expect(rs.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(rs.map((r) => r.portUuid)).size).toBe(1);
  });

  it('refuses a bridge that does not exist and changes nothing', async () => {
    const e = await vs
      .attachPort({ bridge: 'br-nope', name: 'att3', interfaceExternalIds: {} })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NotFoundError);
    expect(
      (await ovs.vsctl(['--if-exists', 'get', 'Interface', 'att3', 'name'])).stdout.trim(),
    ).toBe('');
  });

  it('detach removes our port and is idempotent', async () => {
    await vs.attachPort({
      bridge: 'br-int',
      name: 'det0',
      type: 'internal',
      interfaceExternalIds: {},
    });
    await vs.waitForOfport('det0', 10_000);
    expect(await vs.detachPort('det0')).toBe(true);
    expect((await ovs.vsctl(['list-ports', 'br-int'])).stdout.split('\n')).not.toContain('det0');
    expect(
      (await ovs.vsctl(['--columns=name', 'find', 'Interface', 'name=det0'])).stdout.trim(),
    ).toBe('');
    expect(await vs.detachPort('det0')).toBe(false);
    expect(await vs.getPortBridge('det0')).toBeNull();
  });

  it('refuses to detach a port created by plain ovs-vsctl add-port, leaving it in place', async () => {
    await ovs.vsctl([
      'add-port',
      'br-int',
      'foreign0',
      '--',
      'set',
      'Interface',
      'foreign0',
      'type=internal',
    ]);
    const e = await vs.detachPort('foreign0').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PortNotOwnedError);
    expect(isRetryable(e)).toBe(false);
    expect((await ovs.vsctl(['list-ports', 'br-int'])).stdout.split('\n')).toContain('foreign0');
    // another node's port is not ours either
    await ovs.vsctl(['set', 'Port', 'foreign0', `external_ids:${OWNER_KEY}=node-other`]);
    await expect(vs.detachPort('foreign0')).rejects.toThrow(/owner is node-other/);
    expect((await vs.listOwnedPorts()).map((p) => p.name)).not.toContain('foreign0');
  });

  it('writes the OVS-DPDK representor rows (type dpdk, dpdk-devargs)', async () => {
    const r = await vs.attachPort({
      bridge: 'br-int',
      name: 'dpdk-vf3',
      type: 'dpdk',
      options: { 'dpdk-devargs': '0000:03:00.0,representor=vf3' },
      interfaceExternalIds: { 'iface-id': 'dpdk-pod.default' },
    });
    expect(r.created).toBe(true);
    expect((await ovs.vsctl(['get', 'Interface', 'dpdk-vf3', 'type'])).stdout.trim()).toBe('dpdk');
    expect(await vsctlMap(ovs, 'Interface', 'dpdk-vf3', 'options')).toEqual({
      'dpdk-devargs': '0000:03:00.0,representor=vf3',
    });
    // No DPDK in this ovs-vswitchd: the port exists but cannot open.
    await expect(vs.waitForOfport('dpdk-vf3', 10_000)).rejects.toThrow(InterfaceError);
    expect(await vs.detachPort('dpdk-vf3')).toBe(true);
  });

  /** A row's columns as ovs-vsctl prints them (one `--columns` at a time). */
  const col = async (table: string, record: string, column: string) =>
    (await ovs.vsctl(['get', table, record, column])).stdout.trim();
  const ownedRows = async (table: 'QoS' | 'Queue') =>
    (
      await ovs.vsctl([
        '--bare',
        '--columns=_uuid',
        'find',
        table,
        `external_ids:${OWNER_KEY}=${owner}`,
      ])
    ).stdout
      .split('\n')
      .filter(Boolean);

  it('setPortBandwidth writes policing and a linux-htb QoS with queue 0 in one go, updates in place, clears and deletes its rows', async () => {
    await vs.attachPort({
      bridge: 'br-int',
      name: 'bw0',
      type: 'internal',
      interfaceExternalIds: {},
    });
    const ids = { 'iface-id': 'bw.default', pod: 'default/bw' };
    const r = await vs.setPortBandwidth('bw0', {
      ingressPolicing: { rateKbps: 10_000, burstKbit: 8000 },
      htb: { maxRateBps: 20_000_000, burstBytes: 2_000_000 },
      externalIds: ids,
    });
    expect(r).toMatchObject({ qosType: 'linux-htb', changed: true });
    expect(await col('Interface', 'bw0', 'ingress_policing_rate')).toBe('10000');
    expect(await col('Interface', 'bw0', 'ingress_policing_burst')).toBe('8000');
    const qos = await col('Port', 'bw0', 'qos');
    expect(qos).toBe(r.qosUuid);
    expect(await col('QoS', qos, 'type')).toBe('linux-htb');
    expect(await vsctlMap(ovs, 'QoS', qos, 'external_ids')).toEqual({ ...ids, [OWNER_KEY]: owner });
    const queue = (await col('QoS', qos, 'queues')).match(/^\{0=([0-9a-f-]+)\}$/)?.[1];
    expect(queue).toBeDefined();
    expect(await vsctlMap(ovs, 'Queue', queue!, 'other_config')).toEqual({
      'max-rate': '20000000',
      burst: '2000000',
    });
    expect(await vsctlMap(ovs, 'Queue', queue!, 'external_ids')).toEqual({
      ...ids,
      [OWNER_KEY]: owner,
    });
    // the same again writes nothing
    expect(
      (
        await vs.setPortBandwidth('bw0', {
          ingressPolicing: { rateKbps: 10_000, burstKbit: 8000 },
          htb: { maxRateBps: 20_000_000, burstBytes: 2_000_000 },
          externalIds: ids,
        })
      ).changed,
    ).toBe(false);
    // a new rate updates the same rows
    await vs.setPortBandwidth('bw0', {
      ingressPolicing: null,
      htb: { maxRateBps: 5_000_000, burstBytes: 500_000 },
      externalIds: ids,
    });
    expect(await col('Port', 'bw0', 'qos')).toBe(qos);
    expect(await vsctlMap(ovs, 'Queue', queue!, 'other_config')).toEqual({
      'max-rate': '5000000',
      burst: '500000',
    });
    expect(await col('Interface', 'bw0', 'ingress_policing_rate')).toBe('0');
    expect(await col('Interface', 'bw0', 'ingress_policing_burst')).toBe('0');
    // cleared: the Port has no QoS and our (root-table) rows are gone
    expect(await vs.clearPortBandwidth('bw0')).toBe(true);
    expect(await col('Port', 'bw0', 'qos')).toBe('[]');
    expect(await ownedRows('QoS')).toEqual([]);
    expect(await ownedRows('Queue')).toEqual([]);
    expect(await vs.clearPortBandwidth('bw0')).toBe(false);
    // detach deletes them with the port, in its transaction
    await vs.setPortBandwidth('bw0', {
      ingressPolicing: null,
      htb: { maxRateBps: 5_000_000, burstBytes: 500_000 },
      externalIds: ids,
    });
    expect(await ownedRows('QoS')).toHaveLength(1);
    expect(await vs.detachPort('bw0')).toBe(true);
    expect(await ownedRows('QoS')).toEqual([]);
    expect(await ownedRows('Queue')).toEqual([]);
  });

  it('on a DPDK interface the pod ingress limit is an egress-policer (cir bytes/s, cbs bytes)', async () => {
    await vs.attachPort({
      bridge: 'br-int',
      name: 'dpdk-bw1',
      type: 'dpdk',
      options: { 'dpdk-devargs': '0000:03:00.0,representor=vf1' },
      interfaceExternalIds: {},
    });
    const r = await vs.setPortBandwidth('dpdk-bw1', {
      ingressPolicing: { rateKbps: 10_000, burstKbit: 8000 },
      htb: { maxRateBps: 20_000_000, burstBytes: 2_000_000 },
    });
    expect(r.qosType).toBe('egress-policer');
    const qos = await col('Port', 'dpdk-bw1', 'qos');
    expect(await col('QoS', qos, 'type')).toBe('egress-policer');
    expect(await vsctlMap(ovs, 'QoS', qos, 'other_config')).toEqual({
      cir: '2500000',
      cbs: '2000000',
    });
    expect(await col('QoS', qos, 'queues')).toBe('{}');
    expect(await col('Interface', 'dpdk-bw1', 'ingress_policing_rate')).toBe('10000');
    expect(await vs.detachPort('dpdk-bw1')).toBe(true);
    expect(await ownedRows('QoS')).toEqual([]);
  });

  it('sweepOrphanQos deletes our QoS/Queue rows left by a port removed behind our back, and nothing else', async () => {
    await vs.attachPort({
      bridge: 'br-int',
      name: 'bw3',
      type: 'internal',
      interfaceExternalIds: {},
    });
    await vs.setPortBandwidth('bw3', {
      ingressPolicing: null,
      htb: { maxRateBps: 1_000_000, burstBytes: 100_000 },
    });
    await vs.attachPort({
      bridge: 'br-int',
      name: 'bw4',
      type: 'internal',
      interfaceExternalIds: {},
    });
    await vs.setPortBandwidth('bw4', {
      ingressPolicing: null,
      htb: { maxRateBps: 2_000_000, burstBytes: 100_000 },
    });
    await ovs.vsctl(['del-port', 'br-int', 'bw3']);
    expect(await ownedRows('QoS')).toHaveLength(2);
    expect(await vs.sweepOrphanQos()).toBe(2);
    expect(await ownedRows('QoS')).toHaveLength(1);
    expect(await ownedRows('Queue')).toHaveLength(1);
    expect(await vs.sweepOrphanQos()).toBe(0);
    expect(await vs.detachPort('bw4')).toBe(true);
    expect(await ownedRows('QoS')).toEqual([]);
  });

  it('never touches a QoS on the port that it did not create', async () => {
    await vs.attachPort({
      bridge: 'br-int',
      name: 'bw2',
      type: 'internal',
      interfaceExternalIds: {},
    });
    await ovs.vsctl([
      'set',
      'Port',
      'bw2',
      'qos=@q',
      '--',
      '--id=@q',
      'create',
      'QoS',
      'type=linux-htb',
    ]);
    const theirs = await col('Port', 'bw2', 'qos');
    await expect(
      vs.setPortBandwidth('bw2', {
        ingressPolicing: null,
        htb: { maxRateBps: 1_000_000, burstBytes: 1000 },
      }),
    ).rejects.toThrow(/did not create/);
    expect(await vs.clearPortBandwidth('bw2')).toBe(false);
    expect(await col('Port', 'bw2', 'qos')).toBe(theirs);
    expect(await vs.detachPort('bw2')).toBe(true);
    // a root-table row that is not ours stays, even unreferenced
    expect(await col('QoS', theirs, 'type')).toBe('linux-htb');
    await ovs.vsctl(['destroy', 'QoS', theirs]);
  });

  it('lists owned ports and interfaces, and finds interfaces by external id', async () => {
    await vs.attachPort({
      bridge: 'br-int',
      name: 'lst0',
      type: 'internal',
      interfaceExternalIds: { 'iface-id': 'lst.pod', pod_name: 'lst' },
    });
    const ofport = await vs.waitForOfport('lst0', 10_000);
    const owned = await vs.listOwnedPorts();
    expect(owned.find((p) => p.name === 'lst0')).toMatchObject({
      bridge: 'br-int',
      ofport,
      error: null,
      externalIds: { 'iface-id': 'lst.pod', pod_name: 'lst', [OWNER_KEY]: owner },
    });
    expect(owned.every((p) => p.name !== 'br-int')).toBe(true);
    const found = await vs.findInterfacesByExternalId('iface-id', 'lst.pod');
    expect(found).toEqual([
      expect.objectContaining({ name: 'lst0', port: 'lst0', bridge: 'br-int', ofport }),
    ]);
    expect(await vs.findInterfacesByExternalId('iface-id', 'nobody')).toEqual([]);
    const all = await vs.listInterfaces();
    expect(all.find((i) => i.name === 'br-int')).toMatchObject({
      type: 'internal',
      bridge: 'br-int',
    });
    expect(all.find((i) => i.name === 'lst0')).toMatchObject({
      type: 'internal',
      ofport,
      bridge: 'br-int',
    });
  });

  it('rejects waitForOfport with the Interface error when the device does not exist', async () => {
    await vs.attachPort({ bridge: 'br-int', name: 'nodev0', interfaceExternalIds: {} });
    const e = await vs.waitForOfport('nodev0', 10_000).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InterfaceError);
    expect((e as Error).message).toMatch(
      /^open interface nodev0: could not open network device nodev0/,
    );
    expect(await vs.detachPort('nodev0')).toBe(true);
  });

  it('times out waitForOfport for an interface that never appears', async () => {
    await expect(vs.waitForOfport('never0', 200)).rejects.toThrow(
      'wait for ofport of never0: timed out after 200 ms',
    );
  });

  it('finds stale ports: device gone, pod netns gone', async () => {
    // A representor stand-in: a veth end in the netns where ovs-vswitchd runs.
    await sb.ip.run({ name: sb.hostNetns }, [
      'link',
      'add',
      'stale0',
      'type',
      'veth',
      'peer',
      'name',
      'stale0p',
    ]);
    await sb.ip.run({ name: sb.hostNetns }, ['link', 'set', 'stale0', 'up']);
    await vs.attachPort({ bridge: 'br-int', name: 'stale0', interfaceExternalIds: {} });
    expect(await vs.waitForOfport('stale0', 10_000)).toBeGreaterThan(0);
    const pod = await sb.makePod('stale');
    await vs.attachPort({
      bridge: 'br-int',
      name: 'stale1',
      type: 'internal',
      interfaceExternalIds: { pod_netns: pod.path },
    });
    // (att0 above carries a made-up pod_netns: only this test's ports are looked at.)
    const mine = async () =>
      (await vs.findStalePorts({ netnsExists })).filter((s) => s.name.startsWith('stale'));
    expect(await mine()).toEqual([]);

    await sb.ip.run({ name: sb.hostNetns }, ['link', 'del', 'stale0']);
    await sb.runner.run(['ip', 'netns', 'delete', pod.netns]);
    // The userspace datapath keeps a vanished device open until ovs-vswitchd re-opens its
    // ports (the kernel datapath drops the vport at once): the node-reboot/agent-crash case.
    await ovs.restartVswitchd();
    const stale = (await eventually(
      async () => {
        const s = await mine();
        return s.length === 2 ? s : undefined;
      },
      15_000,
      'both ports reported stale',
    ))!;
    expect(stale.map((s) => [s.name, s.reason])).toEqual([
      ['stale0', 'device-gone'],
      ['stale1', 'netns-gone'],
    ]);
    expect(stale[0]!.detail).toMatch(/could not open network device stale0/);
    for (const s of stale) expect(await vs.detachPort(s.name)).toBe(true);
  });

  it('sets other_config (hw-offload, tc-policy) and reports whether it changed', async () => {
    expect(await vs.getOffloadConfig()).toEqual({ hwOffload: null, tcPolicy: null });
    expect(await vs.setOtherConfig({ 'hw-offload': 'true', 'tc-policy': 'skip_sw' })).toBe(true);
    expect(await vs.setOtherConfig({ 'hw-offload': 'true', 'tc-policy': 'skip_sw' })).toBe(false);
    expect(
      (await ovs.vsctl(['get', 'Open_vSwitch', '.', 'other_config:hw-offload'])).stdout.trim(),
    ).toBe('"true"');
    expect(await vs.getOffloadConfig()).toEqual({ hwOffload: true, tcPolicy: 'skip_sw' });
    expect(await vs.setOtherConfig({ 'tc-policy': null })).toBe(true);
    expect(await vs.getOffloadConfig()).toEqual({ hwOffload: true, tcPolicy: null });
  });

  it('waits for ovs-vswitchd to apply the configuration (cur_cfg)', async () => {
    await vs.syncVswitchd(10_000);
    const next = Number((await ovs.vsctl(['get', 'Open_vSwitch', '.', 'next_cfg'])).stdout.trim());
    const cur = Number((await ovs.vsctl(['get', 'Open_vSwitch', '.', 'cur_cfg'])).stdout.trim());
    expect(cur).toBeGreaterThanOrEqual(next);
  });

  it('reads the Open_vSwitch external_ids', async () => {
    await ovs.vsctl(['set', 'Open_vSwitch', '.', 'external_ids:ovn-remote=unix:/nowhere']);
    expect(await vs.getExternalIds()).toMatchObject({ 'ovn-remote': 'unix:/nowhere' });
    await ovs.vsctl(['remove', 'Open_vSwitch', '.', 'external_ids', 'ovn-remote']);
  });
});

describe('Vswitch with OVN', () => {
  it('attaching with the iface-id of a logical port resolves waitForExternalId(ovn-installed)', async () => {
    const sb = await newSandbox();
    const ovs = await startOvs(sb);
    const ovn = await startOvn(sb, ovs);
    const client = await OvsdbClient.connect(ovs.dbTarget);
    const vs = new Vswitch(client, { owner: sb.id });
    try {
      await vs.ensureBridge('br-int', { datapathType: 'netdev' });
      await ovn.createSwitch('ls0');
      await ovn.addPort('ls0', 'web-1.default', '0a:58:0a:10:00:07', '10.16.0.7');
      expect((await vs.getExternalIds())['ovn-remote']).toBe(`unix:${ovn.sbSock}`);
      await vs.attachPort({
        bridge: 'br-int',
        name: 'ovn0',
        type: 'internal',
        interfaceExternalIds: { 'iface-id': 'web-1.default' },
      });
      await vs.waitForExternalId('ovn0', 'ovn-installed', 'true', 60_000);
      expect(
        (await ovs.vsctl(['get', 'Interface', 'ovn0', 'external_ids:ovn-installed'])).stdout.trim(),
      ).toBe('"true"');
      // An iface-id no logical port has is never installed.
      await vs.attachPort({
        bridge: 'br-int',
        name: 'ovn1',
        type: 'internal',
        interfaceExternalIds: { 'iface-id': 'nobody.default' },
      });
      await expect(vs.waitForExternalId('ovn1', 'ovn-installed', 'true', 1500)).rejects.toThrow(
        /timed out/,
      );
    } finally {
      await vs.close();
      await client.close();
    }
  });
});
