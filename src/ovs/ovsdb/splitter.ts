import { OvsdbProtocolError } from '../errors.js';

export interface SplitterOptions {
  /** Largest accepted JSON value in bytes; a bigger one is a protocol error (default 8 MiB). */
  maxMessageBytes?: number;
  /** Deepest accepted nesting of objects/arrays (default 256; OVSDB values nest 4 deep). */
  maxDepth?: number;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
const DEFAULT_MAX_DEPTH = 256;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/**
 * Splits a byte stream of concatenated JSON values (OVSDB's JSON-RPC framing: no length
 * prefix, no delimiter) into parsed values. It scans bytes, not characters: a chunk boundary
 * may fall inside a multi-byte UTF-8 sequence, so a value is decoded only once all of its
 * bytes are in, and strictly (invalid UTF-8 is a protocol error, as in ovsdb-server).
 *
 * Only objects and arrays may appear at top level (JSON-RPC messages are objects); any other
 * byte there is garbage. A value larger than `maxMessageBytes` fails as soon as it grows past
 * the bound, so a hostile or broken peer cannot make us buffer without limit. After any error
 * the stream cannot be resynchronised: the splitter stays failed and the caller reconnects.
 */
export class JsonStreamSplitter {
  private readonly maxBytes: number;
  private readonly maxDepth: number;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  /** Bytes of the current, incomplete value from earlier chunks. */
  private parts: Buffer[] = [];
  private partsLen = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private failure: OvsdbProtocolError | undefined;

  constructor(opts: SplitterOptions = {}) {
    this.maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  /** Bytes held for the value in progress (bounded by maxMessageBytes). */
  get buffered(): number {
    return this.partsLen;
  }

  /**
   * Feeds one chunk and hands each value it completes to `emit`, in order. Throws
   * OvsdbProtocolError at the first bad byte; values completed before it were emitted.
   */
  push(chunk: Buffer, emit: (value: unknown) => void): void {
    if (this.failure) throw this.failure;
    const n = chunk.length;
    // Start of the current value within this chunk (-1: none started in this chunk).
    let start = this.depth > 0 ? 0 : -1;
    // Index at which the current value would exceed the bound.
    let limit = start === 0 ? this.maxBytes - this.partsLen : Infinity;
    for (let i = 0; i < n; i++) {
      if (i >= limit) this.fail(`message exceeds ${this.maxBytes} bytes`);
      const b = chunk[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === BACKSLASH) this.escaped = true;
        else if (b === QUOTE) this.inString = false;
        continue;
      }
      if (this.depth === 0) {
        if (isSpace(b)) continue;
        if (b !== OPEN_BRACE && b !== OPEN_BRACKET) {
          this.fail(`unexpected byte 0x${b.toString(16).padStart(2, '0')} between messages`);
        }
        this.depth = 1;
        start = i;
        limit = i + this.maxBytes;
        continue;
      }
      if (b === QUOTE) this.inString = true;
      else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
        if (++this.depth > this.maxDepth) this.fail(`message nests deeper than ${this.maxDepth}`);
      } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        if (--this.depth === 0) {
          emit(this.complete(chunk.subarray(start, i + 1)));
          start = -1;
          limit = Infinity;
        }
      }
    }
    if (this.depth > 0) {
      // Keep a copy: the socket may reuse its buffer, and a slice would pin the whole chunk.
      const rest = Buffer.from(chunk.subarray(start));
      this.parts.push(rest);
      this.partsLen += rest.length;
    }
  }

  /** push() collecting the values into an array (tests, one-shot parsing). */
  pushAll(chunk: Buffer): unknown[] {
    const out: unknown[] = [];
    this.push(chunk, (v) => out.push(v));
    return out;
  }

  /** The stream ended: a value still in progress was truncated. */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.depth > 0 || this.partsLen > 0) {
      this.fail(`stream ended inside a message (${this.partsLen} bytes buffered)`);
    }
  }

  private complete(tail: Buffer): unknown {
    const bytes = this.partsLen === 0 ? tail : Buffer.concat([...this.parts, tail]);
    this.parts = [];
    this.partsLen = 0;
    let text: string;
    try {
      text = this.decoder.decode(bytes);
    } catch (err) {
      return this.fail('message is not valid UTF-8', err);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      return this.fail(`message is not valid JSON: ${snippet(text)}`, err);
    }
  }

  private fail(why: string, cause?: unknown): never {
    this.parts = [];
    this.partsLen = 0;
    this.failure = new OvsdbProtocolError(`read ovsdb stream: ${why}`, { cause });
    throw this.failure;
  }
}

function snippet(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}
