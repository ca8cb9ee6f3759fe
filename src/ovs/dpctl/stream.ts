import { isFlowLineError, parseFlowLine } from './line.js';
import { flowTouchesPort } from './ports.js';
import { SummaryAccumulator } from './summary.js';
import type { DpFlow, FlowDump, FlowLineError, FlowSummary } from './types.js';

/**
 * Cuts a stream of chunks (a child's stdout, a file read stream) into lines. Holds only
 * the unfinished last line, so memory does not grow with the dump. UTF-8 sequences split
 * across chunks are decoded whole.
 */
export class LineSplitter {
  private tail = '';
  private readonly decoder = new TextDecoder('utf-8');

  push(chunk: string | Uint8Array, onLine: (line: string) => void): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    let from = 0;
    let nl = text.indexOf('\n');
    if (nl < 0) {
      this.tail += text;
      return;
    }
    if (this.tail.length > 0) {
      onLine(this.tail + text.slice(0, nl));
      this.tail = '';
      from = nl + 1;
      nl = text.indexOf('\n', from);
    }
    while (nl >= 0) {
      onLine(text.slice(from, nl));
      from = nl + 1;
      nl = text.indexOf('\n', from);
    }
    this.tail = text.slice(from);
  }

  /** Hands over a last line that had no newline. */
  end(onLine: (line: string) => void): void {
    const rest = this.tail + this.decoder.decode();
    this.tail = '';
    if (rest.length > 0) onLine(rest);
  }
}

export interface DumpSink {
  flow(flow: DpFlow): void;
  error(error: FlowLineError): void;
}

export interface DumpOptions {
  /** Keep only flows whose in_port or a top-level output is this port (`flows --port`). */
  port?: string;
}

/**
 * Incremental dump-flows parser: feed it chunks or lines as they arrive; each flow goes to
 * the sink and into the summary (after the port filter), then is dropped.
 */
export class DumpParser {
  private readonly splitter = new LineSplitter();
  private readonly acc = new SummaryAccumulator();
  private lineNo = 0;
  private readonly onLine = (line: string): void => this.pushLine(line);

  constructor(
    private readonly sink: DumpSink,
    private readonly opts: DumpOptions = {},
  ) {}

  push(chunk: string | Uint8Array): void {
    this.splitter.push(chunk, this.onLine);
  }

  /** One line (with or without its CR/LF). Do not mix with push() mid-line. */
  pushLine(line: string): void {
    const r = parseFlowLine(line, ++this.lineNo);
    if (r === null) return;
    if (isFlowLineError(r)) {
      this.sink.error(r);
      return;
    }
    if (this.opts.port !== undefined && !flowTouchesPort(r, this.opts.port)) return;
    this.acc.add(r);
    this.sink.flow(r);
  }

  /** Flushes a last unterminated line and returns the summary. */
  end(): FlowSummary {
    this.splitter.end(this.onLine);
    return this.acc.get();
  }

  get summary(): FlowSummary {
    return this.acc.get();
  }

  /** Lines seen so far. */
  get lines(): number {
    return this.lineNo;
  }
}

/** Parses chunks as they come; yields flows and line errors in input order. */
export async function* parseDump(
  source: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  opts: DumpOptions = {},
): AsyncGenerator<DpFlow | FlowLineError, FlowSummary> {
  let pending: (DpFlow | FlowLineError)[] = [];
  const parser = new DumpParser(
    { flow: (f) => pending.push(f), error: (e) => pending.push(e) },
    opts,
  );
  for await (const chunk of source) {
    parser.push(chunk);
    if (pending.length > 0) {
      const batch = pending;
      pending = [];
      yield* batch;
    }
  }
  const summary = parser.end();
  yield* pending;
  return summary;
}

/** The whole §3.3 document for a dump already in memory (tests, small captures). */
export function parseDumpText(text: string, opts: DumpOptions = {}): FlowDump {
  const flows: DpFlow[] = [];
  const errors: FlowLineError[] = [];
  const parser = new DumpParser({ flow: (f) => flows.push(f), error: (e) => errors.push(e) }, opts);
  parser.push(text);
  return { flows, summary: parser.end(), errors };
}
