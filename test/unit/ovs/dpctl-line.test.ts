import { describe, expect, it } from 'vitest';
import {
  isFlowLineError,
  parseFlowLine,
  type DpFlow,
  type FlowLineError,
} from '../../../src/ovs/dpctl/index.js';

function flow(line: string): DpFlow {
  const r = parseFlowLine(line);
  if (r === null || isFlowLineError(r)) throw new Error(`not a flow: ${JSON.stringify(r)}`);
  return r;
}

function error(line: string, lineNo = 1): FlowLineError {
  const r = parseFlowLine(line, lineNo);
  if (!isFlowLineError(r)) throw new Error(`expected an error, got ${JSON.stringify(r)}`);
  return r;
}

const STATS = 'packets:1, bytes:60, used:0.055s';

describe('parseFlowLine: what is skipped', () => {
  it.each([
    ['empty', ''],
    ['spaces', '   \t '],
    ['CR only', '\r'],
    ['pmd header', 'flow-dump from pmd on cpu core: 9'],
    ['main thread header', 'flow-dump from the main thread:'],
    ['header with CRLF', 'flow-dump from the main thread:\r\n'],
    ['comment', '# source: https://example.org/doc'],
    ['separator', '# ---'],
    ['indented comment', '   # note'],
  ])('%s', (_name, line) => {
    expect(parseFlowLine(line)).toBeNull();
  });
});

describe('parseFlowLine: flow forms', () => {
  it('the plain form: fields, counters, used, one output', () => {
    expect(flow(`recirc_id(0),in_port(2),eth_type(0x0800), ${STATS}, actions:3`)).toEqual({
      inPort: '2',
      ufid: null,
      packets: 1,
      bytes: 60,
      used: 0.055,
      dp: null,
      offloaded: null,
      match: { recirc_id: '0', in_port: '2', eth_type: '0x0800' },
      actions: [{ name: 'output', args: '3' }],
      dpExtraInfo: null,
      extra: {},
      raw: `recirc_id(0),in_port(2),eth_type(0x0800), ${STATS}, actions:3`,
    });
  });

  it('-m on the userspace datapath: ufid, dp:ovs, used:never, dp-extra-info after actions', () => {
    const f = flow(
      'ufid:1d1c7e7b-5d22-44f4-be4c-bdf2d07dcb99, skb_priority(0/0),recirc_id(0),in_port(ov8tfp0_0),packet_type(ns=0,id=0),eth(src=f6:a9:cb:56:b1:84,dst=33:33:00:00:00:16), packets:0, bytes:0, used:never, dp:ovs, actions:br-int,ov8tfp0_1, dp-extra-info:miniflow_bits(5,1)',
    );
    expect(f).toMatchObject({
      ufid: '1d1c7e7b-5d22-44f4-be4c-bdf2d07dcb99',
      inPort: 'ov8tfp0_0',
      packets: 0,
      bytes: 0,
      used: null,
      dp: 'ovs',
      offloaded: null,
      dpExtraInfo: 'miniflow_bits(5,1)',
      extra: {},
    });
    expect(f.actions).toEqual([
      { name: 'output', args: 'br-int' },
      { name: 'output', args: 'ov8tfp0_1' },
    ]);
  });

  it.each([
    ['yes', 'tc', 'offloaded:yes, dp:tc'],
    ['partial', 'ovs', 'offloaded:partial, dp:ovs'],
    ['yes', 'dpdk', 'offloaded:yes, dp:dpdk'],
  ] as const)('offloaded:%s with dp:%s', (offloaded, dp, text) => {
    expect(flow(`in_port(1), ${STATS}, ${text}, actions:2`)).toMatchObject({ offloaded, dp });
  });

  it('keeps an unknown dp layer or offloaded value in extra, the typed fields null', () => {
    expect(flow(`in_port(1), ${STATS}, offloaded:maybe, dp:doca, actions:2`)).toMatchObject({
      dp: null,
      offloaded: null,
      extra: { offloaded: 'maybe', dp: 'doca' },
    });
  });

  it('the TCP flags stat (`flags:S.`) and vendor fields go to extra, as strings', () => {
    expect(
      flow(`in_port(1), ${STATS}, flags:SFP., offload_packets:7, offload_bytes:420, actions:2`)
        .extra,
    ).toEqual({ flags: 'SFP.', offload_packets: '7', offload_bytes: '420' });
  });

  it('vendor builds without spaces between fields', () => {
    const f = flow(
      'in_port(a_h),eth_type(0x0800),packets:5,bytes:300,used:3.990s,offloaded:yes,dp:tc,actions:set(tunnel(tun_id=0x5,flags(csum|key))),genev_sys_6081',
    );
    expect(f).toMatchObject({ packets: 5, bytes: 300, used: 3.99, offloaded: 'yes', dp: 'tc' });
    expect(f.actions.map((a) => a.name)).toEqual(['set', 'output']);
    expect(f.match).toEqual({ in_port: 'a_h', eth_type: '0x0800' });
  });

  it('masks and nested tunnel/geneve/encap values are kept verbatim, commas and all', () => {
    const f = flow(
      'tunnel(tun_id=0x4,src=10.6.12.3,dst=10.6.12.7,tp_dst=6081,geneve({class=0x102,type=0x80,len=4,0x20007/0x7fffffff}),flags(+key)),recirc_id(0),in_port(2),eth(src=fa:16:3e:f8:52:5c,dst=00:00:00:00:00:00/01:00:00:00:00:00),eth_type(0x8100),vlan(vid=100,pcp=0),encap(eth_type(0x0800),ipv4(src=10.0.0.1/255.255.255.0,frag=no)), packets:2, bytes:204, used:5.710s, actions:pop_vlan,7',
    );
    expect(Object.keys(f.match)).toEqual([
      'tunnel',
      'recirc_id',
      'in_port',
      'eth',
      'eth_type',
      'vlan',
      'encap',
    ]);
    expect(f.match.tunnel).toBe(
      'tun_id=0x4,src=10.6.12.3,dst=10.6.12.7,tp_dst=6081,geneve({class=0x102,type=0x80,len=4,0x20007/0x7fffffff}),flags(+key)',
    );
    expect(f.match.encap).toBe('eth_type(0x0800),ipv4(src=10.0.0.1/255.255.255.0,frag=no)');
    expect(f.actions).toEqual([
      { name: 'pop_vlan', args: null },
      { name: 'output', args: '7' },
    ]);
  });

  it('the formatter error text key6(bad key length 1, expected 0)(01) does not end the action', () => {
    const f = flow(
      `in_port(7), ${STATS}, actions:set(tunnel(tun_id=0x4,dst=10.6.12.8,ttl=64,tp_dst=6081,key6(bad key length 1, expected 0)(01)geneve({class=0x102,type=0x80,len=4,0x70006}),flags(key))),2`,
    );
    expect(f.actions).toHaveLength(2);
    expect(f.actions[0]!.args).toContain('key6(bad key length 1, expected 0)(01)geneve(');
    expect(f.actions[1]).toEqual({ name: 'output', args: '2' });
  });

  it('ct with commit, zone and nat(src=…) ranges, recirc, ct_clear', () => {
    const f = flow(
      `ct_state(+new-est+trk),recirc_id(0x1),in_port(3), ${STATS}, actions:ct(commit,zone=5,mark=0x1/0x1,nat(src=10.0.0.1-10.0.0.9:1000-2000)),ct_clear,recirc(0x2a)`,
    );
    expect(f.actions).toEqual([
      { name: 'ct', args: 'commit,zone=5,mark=0x1/0x1,nat(src=10.0.0.1-10.0.0.9:1000-2000)' },
      { name: 'ct_clear', args: null },
      { name: 'recirc', args: '0x2a' },
    ]);
    expect(f.match.ct_state).toBe('+new-est+trk');
  });

  it('check_pkt_len, clone, userspace, sample, tnl_push, push_vlan, hash keep their nesting', () => {
    const actions =
      'check_pkt_len(size=200,gt(4),le(5,userspace(pid=3,controller(reason=1,dont_send=1,continuation=0,recirc_id=1,rule_cookie=0,controller_id=0,max_len=65535)))),' +
      'clone(tnl_push(tnl_port(6081),header(size=58,type=5,eth(dst=aa:55:aa:55:00:01,src=aa:55:aa:55:00:02,dl_type=0x0800),ipv4(src=1.1.1.1,dst=1.1.1.2,proto=17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=6081,csum=0x0),geneve(vni=0x5)),out_port(1)),2),' +
      'sample(sample=50.0%,actions(userspace(pid=0,ipfix(output_port=4294967295)))),' +
      'push_vlan(vid=100,pcp=0),hash(l4(0)),meter(0),ct,pop_eth,pop_nsh,pop_nsh(),drop';
    const f = flow(`in_port(1), ${STATS}, actions:${actions}`);
    expect(f.actions.map((a) => a.name)).toEqual([
      'check_pkt_len',
      'clone',
      'sample',
      'push_vlan',
      'hash',
      'meter',
      'ct',
      'pop_eth',
      'pop_nsh',
      'pop_nsh',
      'drop',
    ]);
    expect(f.actions[0]!.args).toMatch(/^size=200,gt\(4\),le\(5,userspace\(.*\)\)$/);
    expect(f.actions[1]!.args).toMatch(/^tnl_push\(.*\),2$/);
    expect(f.actions.slice(6).map((a) => a.args)).toEqual([null, null, null, '', null]);
  });

  it('`actions:drop` and bare words; every other bare token is an output', () => {
    expect(flow(`in_port(1), ${STATS}, actions:drop`).actions).toEqual([
      { name: 'drop', args: null },
    ]);
    expect(flow(`in_port(1), ${STATS}, actions:1,br-int,dpdk0,ct_clear`).actions).toEqual([
      { name: 'output', args: '1' },
      { name: 'output', args: 'br-int' },
      { name: 'output', args: 'dpdk0' },
      { name: 'ct_clear', args: null },
    ]);
  });

  it('counters above 2^32 are numbers; above 2^53−1 decimal strings (exact)', () => {
    expect(
      flow(`in_port(1), packets:4294967297, bytes:9007199254740991, used:1.000s, actions:2`),
    ).toMatchObject({ packets: 4294967297, bytes: 9007199254740991 });
    expect(
      flow(
        `in_port(1), packets:9007199254740992, bytes:18446744073709551615, used:1.000s, actions:2`,
      ),
    ).toMatchObject({ packets: '9007199254740992', bytes: '18446744073709551615' });
    expect(
      flow(`in_port(1), packets:0000000000000000042, bytes:0, used:1.000s, actions:2`).packets,
    ).toBe(42);
  });

  it('used: seconds as a number, never as null, a stepped clock as a negative number', () => {
    const used = (u: string) => flow(`in_port(1), packets:0, bytes:0, used:${u}, actions:2`).used;
    expect(used('0.055s')).toBe(0.055);
    expect(used('14.340s')).toBe(14.34);
    expect(used('never')).toBeNull();
    expect(used('-0.001s')).toBe(-0.001);
  });

  it('CRLF, leading indentation, trailing spaces: raw is the line without CR/LF', () => {
    const f = flow(`   in_port(1), ${STATS}, actions:2  \r\n`);
    expect(f.raw).toBe(`   in_port(1), ${STATS}, actions:2  `);
    expect(f.actions).toEqual([{ name: 'output', args: '2' }]);
  });

  it('no in_port (a flow that matches any port) gives inPort null; `<empty>` is an empty match', () => {
    expect(flow(`eth_type(0x0800), ${STATS}, actions:2`).inPort).toBeNull();
    expect(flow(`<empty>, ${STATS}, actions:drop`).match).toEqual({});
  });

  it('eth() with nothing inside, and dp-extra-info with commas outside parentheses', () => {
    const f = flow(`in_port(1),eth(), ${STATS}, actions:2, dp-extra-info:a,b c, vendor_x:1`);
    expect(f.match.eth).toBe('');
    expect(f.dpExtraInfo).toBe('a,b c');
    expect(f.extra).toEqual({ vendor_x: '1' });
  });
});

describe('parseFlowLine: errors carry the line number, a reason and the raw line', () => {
  it.each([
    ['no actions', `in_port(1), ${STATS}`, /not a flow: no "actions:" field/],
    ['unclosed parenthesis', `in_port(1, ${STATS}, actions:2`, /unbalanced parentheses/],
    ['stray close', `in_port(1)), ${STATS}, actions:2`, /unbalanced parentheses/],
    ['missing packets', 'in_port(1), bytes:1, used:never, actions:2', /missing packets:/],
    ['missing bytes', 'in_port(1), packets:1, used:never, actions:2', /missing bytes:/],
    ['missing used', 'in_port(1), packets:1, bytes:1, actions:2', /missing used:/],
    [
      'bad counter',
      'in_port(1), packets:1x, bytes:1, used:never, actions:2',
      /bad packets: value "1x"/,
    ],
    ['negative counter', 'in_port(1), packets:-1, bytes:1, used:never, actions:2', /bad packets:/],
    ['bad used', 'in_port(1), packets:1, bytes:1, used:soon, actions:2', /bad used: value "soon"/],
    ['duplicate packets', `in_port(1), packets:2, ${STATS}, actions:2`, /duplicate packets:/],
    ['duplicate actions', `in_port(1), ${STATS}, actions:2, actions:3`, /duplicate actions:/],
    ['prose', 'ovs-vswitchd: no datapath', /not a flow/],
    ['prose without colon', 'something went wrong', /not a flow field: "something went wrong"/],
    ['text after a field', `in_port(1)x, ${STATS}, actions:2`, /not a flow field: "in_port\(1\)x"/],
    [
      'leftover bytes',
      `in_port(1), ${STATS}, actions:***4 leftover bytes*** (01020304)`,
      /bad action/,
    ],
    ['__proto__ field', `__proto__(1), ${STATS}, actions:2`, /reserved field name/],
  ])('%s', (_name, line, message) => {
    const e = error(line, 7);
    expect(e.line).toBe(7);
    expect(e.raw).toBe(line);
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain('\n');
  });
});
