import { describe, expect, it } from 'vitest';
import { emptySet } from '../../../src/ovs/ovsdb/index.js';
import {
  bandwidthOps,
  detachQosOps,
  qosTypeFor,
  type QosSnapshot,
} from '../../../src/ovs/vswitch-qos.js';

const PORT = '11111111-1111-1111-1111-111111111111';
const IFACE = '22222222-2222-2222-2222-222222222222';
const QOS = '33333333-3333-3333-3333-333333333333';
const QUEUE = '44444444-4444-4444-4444-444444444444';
const owner = 'node-1';

function snap(patch: Partial<QosSnapshot> = {}): QosSnapshot {
  return {
    portUuid: PORT,
    portQos: emptySet(),
    interfaceUuid: IFACE,
    interfaceType: '',
    policing: { rate: 0, burst: 0 },
    qos: null,
    foreignQos: null,
    queues: new Map(),
    ...patch,
  };
}

const ours = { 'ovs-offload-owner': owner };
const htbSnap = () =>
  snap({
    portQos: ['uuid', QOS],
    qos: {
      uuid: QOS,
      type: 'linux-htb',
      queues: new Map([[0, QUEUE]]),
      otherConfig: {},
      externalIds: ours,
    },
    queues: new Map([
      [
        QUEUE,
        { uuid: QUEUE, otherConfig: { 'max-rate': '1000', burst: '100' }, externalIds: ours },
      ],
    ]),
  });

describe('bandwidthOps (the plan of setPortBandwidth)', () => {
  it('picks the QoS type by the Interface type: linux-htb, egress-policer on dpdk*', () => {
    expect(qosTypeFor('')).toBe('linux-htb');
    expect(qosTypeFor('system')).toBe('linux-htb');
    expect(qosTypeFor('dpdk')).toBe('egress-policer');
  });

  it('nothing to do is no transaction at all', () => {
    expect(bandwidthOps(snap(), { ingressPolicing: null, htb: null }, owner)).toEqual([]);
    expect(
      bandwidthOps(
        htbSnap(),
        { ingressPolicing: null, htb: { maxRateBps: 1000, burstBytes: 100 } },
        owner,
      ),
    ).toEqual([]);
  });

  it('a new htb limit: guard first, then Queue, QoS, Port in one transaction', () => {
    const ops = bandwidthOps(
      snap(),
      {
        ingressPolicing: { rateKbps: 10_000, burstKbit: 8000 },
        htb: { maxRateBps: 20_000_000, burstBytes: 2_000_000 },
        externalIds: { 'iface-id': 'a.b', pod: 'b/a' },
      },
      owner,
    );
    expect(ops.map((o) => `${o.op} ${'table' in o ? o.table : ''}`)).toEqual([
      'wait Port',
      'update Interface',
      'insert Queue',
      'insert QoS',
      'update Port',
    ]);
    expect(ops[1]).toMatchObject({
      row: { ingress_policing_rate: 10_000, ingress_policing_burst: 8000 },
    });
    expect(ops[3]).toMatchObject({ row: { type: 'linux-htb' } });
  });

  it('a policing rate of 0 forces its burst to 0 (Kube-OVN computeIngressPolicingBurstKbit)', () => {
    const ops = bandwidthOps(
      snap({ policing: { rate: 5, burst: 4 } }),
      { ingressPolicing: { rateKbps: 0, burstKbit: 99 }, htb: null },
      owner,
    );
    expect(ops[1]).toMatchObject({ row: { ingress_policing_rate: 0, ingress_policing_burst: 0 } });
  });

  it('a changed rate updates our queue in place', () => {
    const ops = bandwidthOps(
      htbSnap(),
      { ingressPolicing: null, htb: { maxRateBps: 5000, burstBytes: 500 } },
      owner,
    );
    expect(ops.map((o) => `${o.op} ${'table' in o ? o.table : ''}`)).toEqual([
      'wait Port',
      'update Queue',
    ]);
  });

  it('no limit: the Port lets go of the QoS and our QoS and queue are deleted', () => {
    const ops = bandwidthOps(htbSnap(), { ingressPolicing: null, htb: null }, owner);
    expect(ops.map((o) => `${o.op} ${'table' in o ? o.table : ''}`)).toEqual([
      'wait Port',
      'update Port',
      'delete QoS',
      'delete Queue',
    ]);
    expect(detachQosOps(htbSnap(), owner).map((o) => o.op)).toEqual(['update', 'delete', 'delete']);
  });

  it('on a DPDK interface: egress-policer with cir in bytes/s and cbs in bytes, no queue', () => {
    const ops = bandwidthOps(
      snap({ interfaceType: 'dpdk' }),
      { ingressPolicing: null, htb: { maxRateBps: 20_000_000, burstBytes: 2_000_000 } },
      owner,
    );
    const qos = ops.find((o) => o.op === 'insert' && o.table === 'QoS');
    expect(qos).toMatchObject({
      row: {
        type: 'egress-policer',
        queues: ['map', []],
        other_config: [
          'map',
          [
            ['cbs', '2000000'],
            ['cir', '2500000'],
          ],
        ],
      },
    });
    expect(ops.some((o) => o.op === 'insert' && o.table === 'Queue')).toBe(false);
  });

  it('a QoS we did not create: shaping is refused, clearing leaves it', () => {
    const foreign = snap({ portQos: ['uuid', QOS], foreignQos: QOS });
    expect(() =>
      bandwidthOps(
        foreign,
        { ingressPolicing: null, htb: { maxRateBps: 1, burstBytes: 1 } },
        owner,
      ),
    ).toThrow(/did not create/);
    expect(bandwidthOps(foreign, { ingressPolicing: null, htb: null }, owner)).toEqual([]);
  });
});
