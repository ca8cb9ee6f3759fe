import { DumpParser, type DpFlow, type FlowLineError } from '../../ovs/dpctl/index.js';
import { files } from '../../sys/index.js';
import { parse, UsageError } from '../usage.js';

const USAGE = `usage: ovs-offload flows [FILE|-] [--json] [--port NAME]

Parses \`ovs-appctl dpctl/dump-flows [-m] [--names] [type=…]\` output from FILE or stdin.
  --json       the JSON document of DESIGN.md §3.3 (flows, summary, errors)
  --port NAME  only flows that come in on NAME or output to NAME`;

/** Output is written in slices of this size, waiting for the pipe when it is full. */
const FLUSH_AT = 1 << 16;

/** Buffered stdout with backpressure, so a million-flow dump streams in flat memory. */
class Out {
  private parts: string[] = [];
  private size = 0;
  broken = false;

  constructor(private readonly stream: NodeJS.WritableStream) {
    // `ovs-offload flows big.txt | head` closes the pipe early: stop quietly.
    stream.on('error', () => {
      this.broken = true;
    });
  }

  write(s: string): void {
    this.parts.push(s);
    this.size += s.length;
  }

  async flush(force = false): Promise<void> {
    if (this.broken || this.size === 0 || (!force && this.size < FLUSH_AT)) return;
    const text = this.parts.join('');
    this.parts = [];
    this.size = 0;
    if (!this.stream.write(text) && !this.broken) {
      const stream = this.stream;
      await new Promise<void>((resolve) => {
        const done = () => {
          stream.off('drain', done);
          stream.off('error', done);
          resolve();
        };
        stream.on('drain', done);
        stream.on('error', done);
      });
    }
  }
}

interface Format {
  start(out: Out): void;
  flow(out: Out, flow: DpFlow): void;
  error(out: Out, error: FlowLineError): void;
  end(out: Out, parser: DumpParser): void;
}

function jsonFormat(): Format {
  const errors: FlowLineError[] = [];
  let first = true;
  return {
    start: (out) => out.write('{"flows":['),
    flow(out, flow) {
      out.write(first ? '\n' : ',\n');
      out.write(JSON.stringify(flow));
      first = false;
    },
    error: (_out, error) => errors.push(error),
    end(out, parser) {
      // end() first: it hands over a last line that had no newline, which belongs in the array.
      const summary = parser.end();
      out.write(first ? ']' : '\n]');
      out.write(`,"summary":${JSON.stringify(summary)},"errors":${JSON.stringify(errors)}}\n`);
    },
  };
}

const MARK = { yes: '*', partial: '~' } as const;
const ACTIONS_WIDTH = 60;
const ARGS_WIDTH = 24;

function row(cells: [string, string, string, string, string, string, string]): string {
  const [mark, port, packets, bytes, used, dp, actions] = cells;
  return `${mark} ${port.padEnd(16)} ${packets.padStart(12)} ${bytes.padStart(15)}  ${used.padEnd(8)} ${dp.padEnd(4)} ${actions}\n`;
}

/** Long arguments (a whole `set(tunnel(…))`) are elided so the output ports stay visible. */
function actionText(flow: DpFlow): string {
  const s = flow.actions
    .map((a) =>
      a.name === 'output'
        ? (a.args ?? '')
        : a.args === null
          ? a.name
          : `${a.name}(${a.args.length > ARGS_WIDTH ? '…' : a.args})`,
    )
    .join(',');
  return s.length > ACTIONS_WIDTH ? `${s.slice(0, ACTIONS_WIDTH - 1)}…` : s;
}

function tableFormat(): Format {
  return {
    start: (out) => out.write(row([' ', 'IN_PORT', 'PACKETS', 'BYTES', 'USED', 'DP', 'ACTIONS'])),
    flow(out, f) {
      out.write(
        row([
          f.offloaded === null ? ' ' : MARK[f.offloaded],
          f.inPort ?? '-',
          String(f.packets),
          String(f.bytes),
          f.used === null ? 'never' : `${f.used.toFixed(3)}s`,
          f.dp ?? '-',
          actionText(f),
        ]),
      );
    },
    error(_out, e) {
      process.stderr.write(`ovs-offload flows: line ${e.line}: ${e.message}\n`);
    },
    end(out, parser) {
      const s = parser.end();
      out.write(
        `${s.flows} flows, ${s.offloaded} offloaded (* yes, ~ partial), ${s.packets} packets, ${s.bytes} bytes\n`,
      );
    },
  };
}

const HINT = 'see ovs-offload flows --help';

/** Scripts read the reason from stderr: one line, the full usage stays behind --help. */
function parseOneLine(argv: string[]) {
  try {
    return parse(argv, { json: { type: 'boolean' }, port: { type: 'string' } }, USAGE);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    throw new UsageError(`${err.message.split('\n')[0] ?? 'bad arguments'} (${HINT})`);
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOneLine(argv);
  if (positionals.length > 1) throw new UsageError(`one input at most (${HINT})`);
  if (values.port === '') throw new UsageError(`--port needs a port name (${HINT})`);
  const input = positionals[0] ?? '-';
  if (input === '-' && process.stdin.isTTY) {
    throw new UsageError(`no input: give FILE or pipe a dump into stdin (${HINT})`);
  }
  const source: AsyncIterable<string | Uint8Array> =
    input === '-' ? (process.stdin as AsyncIterable<Buffer>) : files.readChunks(input);

  const out = new Out(process.stdout);
  const format = values.json ? jsonFormat() : tableFormat();
  const parser = new DumpParser(
    { flow: (f) => format.flow(out, f), error: (e) => format.error(out, e) },
    values.port === undefined ? {} : { port: values.port },
  );
  // Nothing reaches stdout before the first chunk was read, so an unreadable FILE prints
  // only its one-line reason.
  format.start(out);
  for await (const chunk of source) {
    parser.push(chunk);
    await out.flush();
    if (out.broken) return 0;
  }
  format.end(out, parser);
  await out.flush(true);
  return 0;
}
