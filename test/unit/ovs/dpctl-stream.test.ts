import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  CounterSum,
  counterFromBigInt,
  counterToBigInt,
  DumpParser,
  flowTouchesPort,
  isFlowLineError,
  LineSplitter,
  outputPorts,
  parseCounter,
  parseDump,
  parseDumpText,
  parseFlowLine,
  portNumber,
  SummaryAccumulator,
  type DpFlow,
  type FlowLineError,
} from '../../../src/ovs/dpctl/index.js';
import { dumpflowsFixture, dumpflowsFixtureNames } from '../../helpers/dpctl-fixtures.js';

const ALL_FIXTURES = dumpflowsFixtureNames()
  .map((n) => dumpflowsFixture(n))
  .join('\n');

function collect(chunks: (string | Uint8Array)[]) {
  const flows: DpFlow[] = [];
  const errors: FlowLineError[] = [];
  const p = new DumpParser({ flow: (f) => flows.push(f), error: (e) => errors.push(e) });
  for (const c of chunks) p.push(c);
  return { flows, errors, summary: p.end() };
}

describe('LineSplitter', () => {
  it('gives the same lines whatever the chunk boundaries (CRLF, no final newline, UTF-8)', () => {
    const text = 'a\r\nbé\n\nc€d\r\n\r\nlast';
    const want: string[] = [];
    const s0 = new LineSplitter();
    s0.push(text, (l) => want.push(l));
    s0.end((l) => want.push(l));
    expect(want).toEqual(['a\r', 'bé', '', 'c€d\r', '\r', 'last']);
    const bytes = new TextEncoder().encode(text);
    fc.assert(
      fc.property(fc.array(fc.nat(bytes.length), { maxLength: 8 }), (cuts) => {
        const at = [...new Set(cuts)].sort((a, b) => a - b);
        const got: string[] = [];
        const s = new LineSplitter();
        let from = 0;
        for (const c of [...at, bytes.length]) {
          s.push(bytes.subarray(from, c), (l) => got.push(l));
          from = c;
        }
        s.end((l) => got.push(l));
        expect(got).toEqual(want);
      }),
    );
  });
});

describe('DumpParser', () => {
  it('streams chunks of any size to the same flows, errors and summary as whole text', () => {
    const whole = parseDumpText(ALL_FIXTURES);
    expect(whole.summary.flows).toBe(28);
    for (const size of [1, 7, 64, 4096]) {
      const chunks: string[] = [];
      for (let i = 0; i < ALL_FIXTURES.length; i += size)
        chunks.push(ALL_FIXTURES.slice(i, i + size));
      expect(collect(chunks)).toEqual(whole);
    }
  });

  it('numbers error lines 1-based in the whole input, counting skipped lines', () => {
    const text =
      '\n\n# comment\nflow-dump from the main thread:\nin_port(1), packets:1, bytes:1, used:never, actions:2\nbogus\r\nin_port(2), packets:1, bytes:1, used:never, actions:1';
    const d = parseDumpText(text);
    expect(d.errors).toEqual([{ line: 6, message: 'not a flow field: "bogus"', raw: 'bogus' }]);
    expect(d.flows.map((f) => f.inPort)).toEqual(['1', '2']);
  });

  it('--port keeps flows in on the port or out to it; the summary counts only those', () => {
    const d = parseDumpText(dumpflowsFixture('sriovop-names-ct-zone.txt'), { port: 'eth1' });
    // flows 2-4: in_port(eth1) twice, and eth0 → actions:eth1 once
    expect(d.flows.map((f) => f.inPort)).toEqual(['eth0', 'eth1', 'eth1']);
    expect(d.summary).toEqual({
      flows: 3,
      packets: 2235857 + 133410141 + 133410138,
      bytes: 147599302 + 195255745684 + 195255745483,
      offloaded: 0,
    });
    expect(parseDumpText(ALL_FIXTURES, { port: 'nope' }).summary).toEqual({
      flows: 0,
      packets: 0,
      bytes: 0,
      offloaded: 0,
    });
  });

  it('parseDump yields flows and errors in input order, returns the summary', async () => {
    async function* source() {
      yield 'in_port(1), packets:1, bytes:10, used:never, actions:2\nju';
      yield 'nk\nin_port(2), packets:2, bytes:20, used:never, offloaded:yes, dp:tc, actions:1';
    }
    const it = parseDump(source());
    const seen: (DpFlow | FlowLineError)[] = [];
    let r = await it.next();
    while (!r.done) {
      seen.push(r.value);
      r = await it.next();
    }
    expect(seen.map((x) => (isFlowLineError(x) ? `error ${x.line}` : `flow ${x.inPort}`))).toEqual([
      'flow 1',
      'error 2',
      'flow 2',
    ]);
    expect(r.value).toEqual({ flows: 2, packets: 3, bytes: 30, offloaded: 1 });
  });
});

describe('counters and sums', () => {
  const MAX = Number.MAX_SAFE_INTEGER;

  it('parseCounter: numbers up to 2^53−1, decimal strings above, null for non-digits', () => {
    expect(parseCounter('0')).toBe(0);
    expect(parseCounter('4294967296')).toBe(4294967296);
    expect(parseCounter(String(MAX))).toBe(MAX);
    expect(parseCounter('9007199254740992')).toBe('9007199254740992');
    expect(parseCounter('18446744073709551615')).toBe('18446744073709551615');
    expect(parseCounter('000000000000000000001')).toBe(1);
    for (const bad of ['', '-1', '1.5', '0x10', ' 1', '1e3', '１'])
      expect(parseCounter(bad)).toBeNull();
  });

  it('sums are exact across 2^53 and follow the same number/string rule', () => {
    const s = new CounterSum();
    s.add(MAX);
    expect(s.value).toBe(MAX);
    s.add(1);
    expect(s.value).toBe('9007199254740992');
    s.add('18446744073709551615');
    expect(s.value).toBe((2n ** 53n + 2n ** 64n - 1n).toString());
    expect(counterFromBigInt(5n)).toBe(5);
    expect(counterToBigInt('18446744073709551615')).toBe(2n ** 64n - 1n);
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { maxLength: 20 }),
        (xs) => {
          const acc = new CounterSum();
          for (const x of xs) acc.add(counterFromBigInt(x));
          expect(counterToBigInt(acc.value)).toBe(xs.reduce((a, b) => a + b, 0n));
          const v = acc.value;
          expect(typeof v === 'number' ? Number.isSafeInteger(v) : BigInt(v) > BigInt(MAX)).toBe(
            true,
          );
        },
      ),
    );
  });

  it('summary: offloaded counts yes and partial, not null', () => {
    const acc = new SummaryAccumulator();
    for (const o of ['yes', 'partial', ''] as const) {
      const r = parseFlowLine(
        `in_port(1), packets:9007199254740991, bytes:1, used:never${o ? `, offloaded:${o}` : ''}, actions:2`,
      );
      if (r === null || isFlowLineError(r)) throw new Error('fixture line');
      acc.add(r);
    }
    expect(acc.get()).toEqual({
      flows: 3,
      packets: (3n * BigInt(MAX)).toString(),
      bytes: 3,
      offloaded: 2,
    });
  });
});

describe('port helpers', () => {
  const f = parseDumpText(dumpflowsFixture('charmguide-ovn-geneve-key6.txt')).flows[5]!;

  it('outputs are the top-level bare ports; flowTouchesPort follows the --port rule', () => {
    expect(outputPorts(f)).toEqual(['2']);
    expect(flowTouchesPort(f, '7')).toBe(true);
    expect(flowTouchesPort(f, '2')).toBe(true);
    expect(flowTouchesPort(f, '6')).toBe(false);
  });

  it('portNumber: datapath numbers only', () => {
    expect(portNumber('2')).toBe(2);
    expect(portNumber('4294967295')).toBe(4294967295);
    expect(portNumber('4294967296')).toBeNull();
    expect(portNumber('eth0')).toBeNull();
    expect(portNumber(null)).toBeNull();
  });
});
