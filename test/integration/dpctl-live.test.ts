import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  dumpFlows,
  parseDumpText,
  portNumber,
  type DpFlow,
  type FlowDump,
  type FlowLineError,
} from '../../src/ovs/dpctl/index.js';
import { ExecaRunner } from '../../src/sys/index.js';
import { captureLiveDumps, LIVE_FORMS, type LiveCapture } from '../helpers/dpctl-live.js';
import { newNode, type Node } from '../helpers/sandbox.js';

/**
 * The parser on real `ovs-appctl dpctl/dump-flows` output of a running ovs-vswitchd
 * (userspace datapath: `dp:ovs`, `dp-extra-info:miniflow_bits(…)`, a `flow-dump from the
 * main thread:` header, `packets:0, used:never` flows whose only packet went up as an
 * upcall), in every form the command prints, and through the `ovs-offload flows` binary.
 */
let cap: LiveCapture;
let node: Node;
const dumps: Record<string, FlowDump> = {};

beforeAll(async () => {
  node = await newNode({ nic: { identity: 'mlx5', vfsPerPf: 3 } });
  cap = await captureLiveDumps(node);
  for (const [form, text] of Object.entries(cap.dumps)) dumps[form] = parseDumpText(text);
});

const withNames = ['-m', '-m type=all', '--names', '-m -m', '-m type=ovs'];
const withNumbers = ['plain', '--no-names -m', 'type=ovs'];
const verbose = ['-m', '-m type=all', '--no-names -m', '-m -m', '-m type=ovs'];
const actionText = (f: DpFlow) =>
  f.actions.map((a) => (a.args === null ? a.name : `${a.name}(${a.args})`));

describe('dpctl parser on a live userspace datapath', () => {
  it('reads every form without an error; the thread header is skipped, never a flow', () => {
    expect(Object.keys(dumps).sort()).toEqual(Object.keys(LIVE_FORMS).sort());
    for (const [form, d] of Object.entries(dumps)) {
      const text = cap.dumps[form]!;
      expect(d.errors, form).toEqual([]);
      const lines = text.split('\n').filter((l) => l.trim() !== '');
      const headers = lines.filter((l) => l.startsWith('flow-dump from '));
      expect(d.summary.flows, form).toBe(lines.length - headers.length);
      if (form.includes('type=offloaded')) {
        // no TC here: nothing is offloaded, and OVS prints not even the header
        expect(d.summary, form).toEqual({ flows: 0, packets: 0, bytes: 0, offloaded: 0 });
      } else {
        expect(headers, form).toEqual(['flow-dump from the main thread:']);
        expect(d.summary.flows, form).toBeGreaterThanOrEqual(8);
      }
    }
  });

  it('-m: ufid, dp:ovs and dp-extra-info on every flow, never offloaded', () => {
    for (const form of verbose) {
      const d = dumps[form]!;
      expect(d.summary.offloaded, form).toBe(0);
      for (const f of d.flows) {
        expect(f.ufid, form).toMatch(
          /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
        );
        expect(f, form).toMatchObject({ dp: 'ovs', offloaded: null, extra: {} });
        expect(f.dpExtraInfo, form).toMatch(/^miniflow_bits\(\d+,\d+\)$/);
        // -m prints the wildcarded fields too
        expect(Object.keys(f.match).slice(0, 2), form).toEqual(['skb_priority', 'skb_mark']);
      }
    }
    for (const form of ['plain', '--names', 'type=ovs']) {
      for (const f of dumps[form]!.flows) {
        expect(f, form).toMatchObject({ ufid: null, dp: null, offloaded: null, dpExtraInfo: null });
      }
    }
  });

  it('ports are datapath numbers, or names with --names/-m, consistent with dpctl/show', () => {
    const names = new Set(cap.ports.values());
    for (const form of withNumbers) {
      for (const f of dumps[form]!.flows) {
        expect(cap.ports.has(f.inPort!), `${form} ${f.inPort}`).toBe(true);
        expect(portNumber(f.inPort)).not.toBeNull();
      }
    }
    for (const form of withNames) {
      for (const f of dumps[form]!.flows)
        expect(names.has(f.inPort!), `${form} ${f.inPort}`).toBe(true);
    }
    // the same flow (same ufid) in the numeric and the named -m dump
    const byUfid = new Map(dumps['--no-names -m']!.flows.map((f) => [f.ufid, f]));
    let same = 0;
    for (const f of dumps['-m']!.flows) {
      const g = byUfid.get(f.ufid);
      if (!g) continue;
      same++;
      expect(cap.ports.get(g.inPort!)).toBe(f.inPort);
      const outs = (x: DpFlow) => x.actions.filter((a) => a.name === 'output').map((a) => a.args);
      expect(outs(g).map((p) => cap.ports.get(p!))).toEqual(outs(f));
    }
    expect(same).toBeGreaterThanOrEqual(8);
  });

  it('the rules of the capture show up as the datapath actions they compile to', () => {
    const d = dumps['-m type=all']!;
    const [a, b, c] = cap.reps;
    const from = (rep: string) => d.flows.filter((f) => f.inPort === rep);
    // a → b through conntrack: ct(zone=5),recirc(…), then the ct_state(+new+trk) pass
    const first = from(a).find(
      (f) => f.actions[0]?.name === 'ct' && f.actions[0].args === 'zone=5',
    );
    expect(first, 'ct(zone=5),recirc').toBeDefined();
    expect(first!.actions[1]!.name).toBe('recirc');
    expect(first!.match.recirc_id).toBe('0');
    const second = from(a).find((f) => f.match.recirc_id === first!.actions[1]!.args);
    expect(second, 'recirculated pass').toBeDefined();
    expect(second!.match.ct_state).toMatch(/\/0x/);
    expect(actionText(second!)).toEqual(['ct(commit,zone=5,mark=0x1/0xffffffff)', `output(${b})`]);
    expect(second!.match.ct_tuple4).toContain('dst=10.55.0.2');
    expect(first!.packets as number).toBeGreaterThanOrEqual(3);
    // pod c: drop, controller, check_pkt_len, VLAN push
    const to = (ip: string) =>
      from(c).find((f) => f.match.ipv4?.includes(`dst=${ip},`) && f.match.eth_type === '0x0800');
    const drop = to('10.55.0.99')!;
    // one packet, handled as an upcall: the datapath flow never matched a packet
    expect(drop).toMatchObject({
      actions: [{ name: 'drop', args: null }],
      packets: 0,
      bytes: 0,
      used: null,
    });
    expect(actionText(to('10.55.0.98')!)[0]).toMatch(/^userspace\(pid=\d+,controller\(reason=1,/);
    expect(actionText(to('10.55.0.97')!)).toEqual([`check_pkt_len(size=200,gt(drop),le(${a}))`]);
    expect(actionText(to('10.55.0.96')!)).toEqual([
      'push_vlan(vid=100,pcp=0)',
      `output(${a})`,
      'pop_vlan',
      `output(${b})`,
    ]);
  });

  it('summary sums every flow exactly; --port keeps flows in on or out to that port', () => {
    const text = cap.dumps['-m type=all']!;
    const d = dumps['-m type=all']!;
    const sum = (k: 'packets' | 'bytes') => d.flows.reduce((s, f) => s + BigInt(f[k]), 0n);
    expect(BigInt(d.summary.packets)).toBe(sum('packets'));
    expect(BigInt(d.summary.bytes)).toBe(sum('bytes'));
    const [a] = cap.reps;
    const port = parseDumpText(text, { port: a });
    expect(port.flows.length).toBeGreaterThan(0);
    expect(port.flows.length).toBeLessThan(d.flows.length);
    expect(port.flows.map((f) => f.ufid)).toEqual(
      d.flows
        .filter((f) => f.inPort === a || f.actions.some((x) => x.name === 'output' && x.args === a))
        .map((f) => f.ufid),
    );
  });

  it('`ovs-offload flows - --json` on the live dump prints the same document', () => {
    for (const form of ['-m type=all', 'plain', 'type=offloaded']) {
      const out = execFileSync('bin/ovs-offload', ['flows', '-', '--json'], {
        input: cap.dumps[form]!,
      }).toString();
      expect(JSON.parse(out), form).toEqual(dumps[form]);
    }
    const [, b] = cap.reps;
    const table = execFileSync('bin/ovs-offload', ['flows', '--port', b], {
      input: cap.dumps['-m']!,
    }).toString();
    expect(table.split('\n')[0]).toMatch(/IN_PORT +PACKETS +BYTES +USED +DP +ACTIONS/);
    expect(table).toContain(` ${b} `);
    expect(table).toMatch(/^\d+ flows, 0 offloaded/m);
  });

  it('dumpFlows streams ovs-appctl itself through the parser', async () => {
    await cap.ping();
    const flows: DpFlow[] = [];
    const errors: FlowLineError[] = [];
    const summary = await dumpFlows(
      new ExecaRunner(),
      { flow: (f) => flows.push(f), error: (e) => errors.push(e) },
      { target: node.ovs.vswitchdCtl, env: node.ovs.env },
    );
    expect(errors).toEqual([]);
    expect(summary.flows).toBe(flows.length);
    expect(flows.some((f) => f.inPort === cap.reps[0] && f.actions[0]?.name === 'ct')).toBe(true);
    for (const f of flows) expect(f).toMatchObject({ dp: 'ovs', offloaded: null });
    await expect(
      dumpFlows(
        new ExecaRunner(),
        { flow: () => undefined, error: () => undefined },
        {
          target: `${node.ovs.vswitchdCtl}.missing`,
          env: node.ovs.env,
        },
      ),
    ).rejects.toThrow(/^run ovs-appctl -t .*\.missing dpctl\/dump-flows -m type=all: exit /);
  });
});
