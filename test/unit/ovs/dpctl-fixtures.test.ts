import { describe, expect, it } from 'vitest';
import { parseDumpText, type DpFlow, type FlowDump } from '../../../src/ovs/dpctl/index.js';
import { dumpflowsFixture, dumpflowsFixtureNames } from '../../helpers/dpctl-fixtures.js';

/**
 * The facts of test/fixtures/dumpflows (counted independently, listed in the fixtures'
 * README and `# note:` lines), asserted file by file.
 */
const parsed = (name: string): FlowDump => parseDumpText(dumpflowsFixture(name));
const inPorts = (d: FlowDump) => d.flows.map((f) => f.inPort);
const actionNames = (f: DpFlow) => f.actions.map((a) => a.name);

describe('dpctl parser on published dumps', () => {
  it('covers every fixture file, each with a # source line, and none yields an error', () => {
    const names = dumpflowsFixtureNames();
    expect(names).toHaveLength(8);
    for (const name of names) {
      const text = dumpflowsFixture(name);
      expect(text.split('\n')[0], name).toMatch(/^# source: https:\/\//);
      const d = parseDumpText(text);
      expect(d.errors, name).toEqual([]);
      expect(d.flows.length, name).toBeGreaterThan(0);
      // raw is the line as read: the parser never rewrites it
      for (const f of d.flows) expect(text).toContain(f.raw);
    }
  });

  it('charm-guide OVN geneve (type=offloaded): 8 flows, tunnel match, key6 error text inside set(tunnel())', () => {
    const d = parsed('charmguide-ovn-geneve-key6.txt');
    expect(d.summary).toEqual({ flows: 8, packets: 1120524, bytes: 7544525470, offloaded: 0 });
    expect(inPorts(d)).toEqual(['2', '2', '2', '2', '6', '7', '7', '7']);
    // no -m: no ufid, offloaded or dp fields
    for (const f of d.flows) {
      expect(f).toMatchObject({ ufid: null, offloaded: null, dp: null, dpExtraInfo: null });
    }
    // flows 1-4 start with a tunnel() match before recirc_id
    for (const f of d.flows.slice(0, 4)) {
      expect(Object.keys(f.match).slice(0, 3)).toEqual(['tunnel', 'recirc_id', 'in_port']);
      expect(f.match.tunnel).toMatch(/^tun_id=0x4,.*geneve\(\{class=0x102,.*\}\),flags\(\+key\)$/);
      expect(f.match.eth).toMatch(/dst=00:00:00:00:00:00\/01:00:00:00:00:00$/);
      expect(f.actions).toEqual([{ name: 'output', args: '7' }]);
    }
    expect(d.flows[0]!.match.tcp_flags).toBe('psh|ack');
    // flow 5: LLDP dropped
    expect(d.flows[4]!.match.eth_type).toBe('0x88cc');
    expect(d.flows[4]!.actions).toEqual([{ name: 'drop', args: null }]);
    expect(d.flows.filter((f) => f.actions.some((a) => a.name === 'drop'))).toHaveLength(1);
    // flows 6-8: the formatter's own error text (space and comma inside parentheses) stays
    // inside set(); the output port after it is 2
    const set = d.flows.slice(5);
    expect(set).toHaveLength(3);
    for (const f of set) {
      expect(actionNames(f)).toEqual(['set', 'output']);
      expect(f.actions[0]!.args).toBe(
        'tunnel(tun_id=0x4,dst=10.6.12.8,ttl=64,tp_dst=6081,key6(bad key length 1, expected 0)(01)geneve({class=0x102,type=0x80,len=4,0x70006}),flags(key))',
      );
      expect(f.actions[1]).toEqual({ name: 'output', args: '2' });
      expect(f.match.ipv4).toBe('dst=10.42.0.16/255.255.255.240,proto=6,tos=0/0x3,frag=no');
    }
    expect(d.flows.map((f) => f.packets)).toEqual([2, 3, 0, 180737, 5, 0, 935904, 3873]);
    expect(d.flows.map((f) => f.used)).toEqual([5.71, 5.71, 6.74, 0, 14.34, 6.91, 0.59, 0.59]);
  });

  it('Kube-OVN Corigine (-m type=offloaded): 2 flows offloaded by tc, ufid, names, bytes > 2^32', () => {
    const d = parsed('kubeovn-corigine-m-offloaded.txt');
    expect(d.summary).toEqual({ flows: 2, packets: 83328198, bytes: 116006996403, offloaded: 2 });
    expect(d.summary.bytes as number).toBeGreaterThan(2 ** 32);
    expect(inPorts(d)).toEqual(['5b45c61b307e_h', '54235e5753b8_h']);
    expect(d.flows.map((f) => f.ufid)).toEqual([
      '91cc45de-e7e9-4935-8f82-1890430b0f66',
      'e00768d7-e652-4d79-8182-3291d852b791',
    ]);
    for (const f of d.flows) expect(f).toMatchObject({ offloaded: 'yes', dp: 'tc', used: 0.26 });
    expect(d.flows.map((f) => f.actions)).toEqual([
      [{ name: 'output', args: '54235e5753b8_h' }],
      [{ name: 'output', args: '5b45c61b307e_h' }],
    ]);
    expect(d.flows[1]!.bytes).toBe(115944854173);
    // -m prints every field, wildcarded ones as value/mask
    expect(Object.keys(d.flows[0]!.match)).toEqual([
      'skb_priority',
      'skb_mark',
      'ct_state',
      'ct_zone',
      'ct_mark',
      'ct_label',
      'recirc_id',
      'dp_hash',
      'in_port',
      'packet_type',
      'eth',
      'eth_type',
      'ipv4',
    ]);
    expect(d.flows[0]!.match.ct_state).toBe('0/0x23');
  });

  it('Kube-OVN Yunsilicon (netdev, type=offloaded): pmd header is not a flow; 6 ct/recirc flows', () => {
    const text = dumpflowsFixture('kubeovn-yunsilicon-pmd-ct.txt');
    expect(text).toContain('\nflow-dump from pmd on cpu core: 9\n');
    const d = parseDumpText(text);
    expect(d.errors).toEqual([]);
    expect(d.summary).toEqual({ flows: 6, packets: 34, bytes: 3332, offloaded: 0 });
    expect(inPorts(d)).toEqual(['15', '8', '8', '15', '8', '15']);
    expect(d.flows.map((f) => f.packets)).toEqual([6, 5, 5, 6, 6, 6]);
    expect(d.flows.map((f) => f.bytes)).toEqual([588, 490, 490, 588, 588, 588]);
    expect(d.flows[0]!.match).toMatchObject({
      ct_state: '-new+est-rel+rpl+trk',
      ct_mark: '0/0x3',
      recirc_id: '0x2d277',
      packet_type: 'ns=0,id=0',
    });
    expect(d.flows.map((f) => f.match.recirc_id)).toEqual([
      '0x2d277',
      '0x2d275',
      '0x2d276',
      '0',
      '0',
      '0x2d278',
    ]);
    expect(d.flows[0]!.actions).toEqual([
      { name: 'ct', args: 'zone=4,nat' },
      { name: 'recirc', args: '0x2d278' },
    ]);
    expect(d.flows[2]!.actions).toEqual([{ name: 'output', args: '15' }]);
    expect(d.flows[5]!.actions).toEqual([{ name: 'output', args: '8' }]);
    expect(d.flows[3]!.match.eth).toBe(
      'src=00:00:00:9d:fb:1a/01:00:00:00:00:00,dst=00:00:00:ce:cf:b9',
    );
    expect(d.flows[3]!.match.ipv4).toBe('dst=10.16.0.14/255.192.0.0,frag=no');
    for (const f of d.flows) expect(f).toMatchObject({ ufid: null, offloaded: null, dp: null });
  });

  it('Kube-OVN YUSUR vendor build: offload_packets/offload_bytes go to extra, missing spaces parse', () => {
    const d = parsed('kubeovn-yusur-vendor-offload-counters.txt');
    expect(d.summary).toEqual({ flows: 2, packets: 81967, bytes: 109981294, offloaded: 2 });
    expect(inPorts(d)).toEqual(['d85b161b6840_h', 'genev_sys_6081']);
    // `packets:` is the token, never `offload_packets:`
    expect(d.flows.map((f) => [f.packets, f.bytes])).toEqual([
      [75021, 109521630],
      [6946, 459664],
    ]);
    expect(d.flows.map((f) => f.extra)).toEqual([
      { offload_packets: '75019', offload_bytes: '109521498' },
      { offload_packets: '6944', offload_bytes: '459532' },
    ]);
    // `used:3.990s,offloaded:yes,dp:tc,` and `dp:tc,offloaded:yes,actions:`
    for (const f of d.flows) expect(f).toMatchObject({ offloaded: 'yes', dp: 'tc' });
    expect(d.flows.map((f) => f.used)).toEqual([3.99, 4.17]);
    expect(d.flows[0]!.actions).toEqual([
      {
        name: 'set',
        args: 'tunnel(tun_id=0x5,dst=192.168.201.12,ttl=64,tp_dst=6081,geneve({class=0x102,type=0x80,len=4,0xa0006}),flags(csum|key))',
      },
      { name: 'output', args: 'genev_sys_6081' },
    ]);
    expect(d.flows[1]!.actions).toEqual([{ name: 'output', args: 'd85b161b6840_h' }]);
    expect(d.flows[1]!.match.tunnel).toBe(
      'tun_id=0x5,src=192.168.201.12,dst=192.168.201.11,ttl=0/0,tp_dst=6081,geneve({class=0x102,type=0x80,len=4,0x6000a}),flags(+key)',
    );
    expect(Object.keys(d.flows[1]!.match).slice(0, 3)).toEqual([
      'skb_priority',
      'tunnel',
      'skb_mark',
    ]);
  });

  it('sriov-network-operator --names: port names, ct(zone=65520) + recirc, partial eth matches', () => {
    const d = parsed('sriovop-names-ct-zone.txt');
    expect(d.summary).toEqual({
      flows: 4,
      packets: 271291993,
      bytes: 390806689771,
      offloaded: 0,
    });
    expect(inPorts(d)).toEqual(['eth0', 'eth0', 'eth1', 'eth1']);
    expect(d.flows.map((f) => f.actions)).toEqual([
      [
        { name: 'ct', args: 'zone=65520' },
        { name: 'recirc', args: '0x18' },
      ],
      [{ name: 'output', args: 'eth1' }],
      [
        { name: 'ct', args: 'zone=65520' },
        { name: 'recirc', args: '0x16' },
      ],
      [{ name: 'output', args: 'eth0' }],
    ]);
    expect(d.flows[1]!.match).toMatchObject({
      ct_state: '+est+trk',
      ct_mark: '0',
      recirc_id: '0x18',
      eth: 'dst=42:66:d7:45:0d:7e',
    });
    expect(d.flows[0]!.match.eth).toBe('src=16:fd:c6:0b:60:52');
  });

  it('sriov-network-operator vDPA (-m type=offloaded): 4 tc flows, one IPv6 drop', () => {
    const d = parsed('sriovop-vdpa-m-ct-drop.txt');
    expect(d.summary).toEqual({ flows: 4, packets: 2202861, bytes: 3052484286, offloaded: 4 });
    expect(inPorts(d)).toEqual([
      'ac63a8e99747603',
      'ac63a8e99747603',
      'ac63a8e99747603',
      '8630f7a90005cdd',
    ]);
    for (const f of d.flows) {
      expect(f).toMatchObject({ offloaded: 'yes', dp: 'tc' });
      expect(f.ufid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
    const v6 = d.flows[2]!;
    expect(v6.match.eth_type).toBe('0x86dd');
    expect(v6.match.ipv6).toBe(
      'src=::/::,dst=::/::,label=0/0,proto=0/0,tclass=0/0,hlimit=0/0,frag=no',
    );
    expect(v6.match.eth).toBe('src=0a:58:c0:a8:00:06,dst=00:00:00:00:00:00/00:00:00:00:00:00');
    expect(v6).toMatchObject({ packets: 0, bytes: 0, actions: [{ name: 'drop', args: null }] });
    expect(d.flows.map((f) => f.actions.map((a) => `${a.name}(${a.args})`).join(','))).toEqual([
      'ct(zone=15,nat),recirc(0x440)',
      'ct(zone=15,nat),recirc(0x442)',
      'drop(null)',
      'ct(zone=14,nat),recirc(0x43e)',
    ]);
    expect(d.flows[3]!.match.tcp).toBe('src=0/0,dst=5201');
  });

  it('ConnectX-5 `-m | egrep offload`: one tc flow, uplink by name to the VF0 representor', () => {
    const d = parsed('wangjun-m-grep-offload-single.txt');
    expect(d.summary).toEqual({ flows: 1, packets: 54114480, bytes: 81929308428, offloaded: 1 });
    expect(d.flows[0]).toMatchObject({
      ufid: '9b0596d9-d3c6-4c88-aadb-087a81690c22',
      inPort: 'enp216s0f0',
      offloaded: 'yes',
      dp: 'tc',
      used: 0.52,
      actions: [{ name: 'output', args: 'enp216s0f0_0' }],
    });
  });

  it('ConnectX-5 type=offloaded without -m: numeric ports, offloaded unknown (null)', () => {
    const d = parsed('wangjun-offloaded-numeric-ports.txt');
    expect(d.summary).toEqual({ flows: 1, packets: 136600676, bytes: 206813409172, offloaded: 0 });
    expect(d.flows[0]).toMatchObject({
      inPort: '6',
      ufid: null,
      offloaded: null,
      dp: null,
      used: 0.17,
      actions: [{ name: 'output', args: '4' }],
    });
  });
});
