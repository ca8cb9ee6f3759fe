/**
 * Typed errors shared by every layer. Messages read "verb object: cause" so that a
 * chain of `{ cause }` wrappers prints as one readable line.
 */

export class OvsOffloadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Something looked up (a file, a device, a port) does not exist. */
export class NotFoundError extends OvsOffloadError {
  constructor(
    readonly what: string,
    options?: { cause?: unknown; message?: string },
  ) {
    super(options?.message ?? `${what}: not found`, options);
  }
}

/** The host (kernel, driver, firmware, tool) lacks a feature we need. */
export class NotSupportedError extends OvsOffloadError {
  constructor(
    readonly feature: string,
    options?: { cause?: unknown; message?: string },
  ) {
    super(options?.message ?? `${feature}: not supported`, options);
  }
}

/** Caller input (config, CLI argument, request field) is invalid; nothing was changed. */
export class InvalidInputError extends OvsOffloadError {
  constructor(
    readonly field: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${field}: ${reason}`, options);
  }
}

/** A bounded wait ran out. */
export class TimeoutError extends OvsOffloadError {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super(`${what}: timed out after ${timeoutMs} ms`, options);
  }
}

/** An external command failed: the argv (never a shell string), its exit code and stderr. */
export class CommandError extends OvsOffloadError {
  /** What the command printed on stdout (CNI plugins report their errors there). */
  readonly stdout: string;
  /** Killed for running past its timeout: worth retrying, unlike a refusal. */
  readonly timedOut: boolean;

  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    options?: { cause?: unknown; signal?: string | null; timedOut?: boolean; stdout?: string },
  ) {
    const how = options?.timedOut
      ? 'timed out'
      : options?.signal
        ? `killed by ${options.signal}`
        : `exit ${exitCode}`;
    const detail = stderr.trim().split('\n').slice(-3).join(' | ');
    super(`run ${argv.join(' ')}: ${how}${detail ? `: ${detail}` : ''}`, options);
    this.stdout = options?.stdout ?? '';
    this.timedOut = options?.timedOut ?? false;
  }
}

/** The message of any thrown value, for logs and one-line CLI errors. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Node's errno code of a system error, if it has one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code: unknown = err.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
