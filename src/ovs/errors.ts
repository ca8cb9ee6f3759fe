import { OvsOffloadError, TimeoutError } from '../sys/index.js';

/**
 * Typed errors of the OVS layer. Each says whether retrying the same call may succeed:
 * `retryable: true` marks failures of the path to ovsdb-server (not of the request itself).
 * A transaction that failed retryably may or may not have been committed before the
 * connection died, so only idempotent work should be retried blindly.
 */

/** ovsdb-server refused a request or one operation of a transaction (RFC 7047 §3.1, §4.1.3). */
export class OvsdbError extends OvsOffloadError {
  readonly retryable = false;
  /** 0-based position of the failed operation in its transaction, if one failed. */
  readonly index: number | undefined;
  constructor(
    /** The operation that failed ("insert", "mutate", …), "commit", or the RPC method. */
    readonly op: string,
    /** The short error tag from the server ("constraint violation", "timed out", …). */
    readonly error: string,
    readonly details: string | undefined,
    options: {
      /** What was being done, for the message: "transact Open_vSwitch". */
      context: string;
      /** 0-based position of the failed operation in its transaction. */
      index?: number;
      cause?: unknown;
    },
  ) {
    const where = options.index === undefined ? '' : ` op ${options.index} (${op})`;
    super(`${options.context}${where}: ${error}${details ? `: ${details}` : ''}`, options);
    this.index = options.index;
  }

  /** A unique index (e.g. on `name`) would be duplicated: someone created the row first. */
  get isIndexConflict(): boolean {
    return this.error === 'constraint violation' && /for index on column/.test(this.details ?? '');
  }
}

/**
 * The connection to ovsdb-server is not there: never established, lost with the request in
 * flight, or declared dead by the keepalive. The client reconnects on its own.
 */
export class OvsdbDisconnectedError extends OvsOffloadError {
  readonly retryable = true;
  constructor(
    readonly endpoint: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The peer broke the wire protocol (bad framing, bad JSON, oversize message, bad reply). */
export class OvsdbProtocolError extends OvsOffloadError {
  readonly retryable = false;
}

/** The client was closed by its owner: nothing more will be sent or retried. */
export class OvsdbClosedError extends OvsOffloadError {
  readonly retryable = false;
}

/** A request got no reply in time; its outcome is unknown (it may have been applied). */
export class OvsdbTimeoutError extends TimeoutError {
  readonly retryable = true;
}

/** The port exists but lacks our owner marker: it belongs to someone else. */
export class PortNotOwnedError extends OvsOffloadError {
  constructor(
    readonly port: string,
    /** The owner value found on the port, or null when it carries no owner key. */
    readonly foundOwner: string | null,
    readonly owner: string,
  ) {
    super(
      `detach port ${port}: not owned by ${owner} (${
        foundOwner === null ? 'no owner key' : `owner is ${foundOwner}`
      }); left untouched`,
    );
  }
}

/** A port with that name exists elsewhere (another bridge, or as an interface of another port). */
export class PortConflictError extends OvsOffloadError {
  constructor(
    readonly port: string,
    readonly bridge: string,
    readonly existingBridge: string | null,
    detail: string,
  ) {
    super(`attach port ${port} to ${bridge}: ${detail}`);
  }
}

/** ovs-vswitchd could not open the interface (ofport -1); `reason` is its `error` column. */
export class InterfaceError extends OvsOffloadError {
  constructor(
    readonly iface: string,
    readonly reason: string,
  ) {
    super(`open interface ${iface}: ${reason}`);
  }
}

/**
 * Whether retrying may help: the first error in the `cause` chain that says so decides
 * (wrappers without an opinion defer to their cause).
 */
export function isRetryable(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 10 && typeof e === 'object' && e !== null; depth++) {
    if ('retryable' in e) return e.retryable === true;
    e = 'cause' in e ? e.cause : undefined;
  }
  return false;
}
