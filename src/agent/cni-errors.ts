import { CniCode, CniError } from '../cni/errors.js';
import {
  CommandError,
  errorMessage,
  InvalidInputError,
  NotFoundError,
  TimeoutError,
} from '../sys/index.js';
import {
  CheckMismatchError,
  DecodeError,
  NotReadyError,
  PluginError,
  RequestEnvError,
  TransientError,
  VersionError,
  VfInUseError,
} from './errors.js';

/** Plugin-specific codes (CNI reserves 1-99 for the spec); documented in docs/cni.md. */
export const PluginCode = {
  /** CHECK: the attachment is not as ADD left it. */
  CheckMismatch: 100,
  /** A host operation failed for a reason that retrying will not cure by itself. */
  HostFailure: 101,
} as const;

/**
 * The CNI edge of the agent: typed errors become CNI codes here and nowhere else.
 * 11 ("try again later") only for conditions that go away by themselves: a retryable error
 * or a timeout anywhere in the `cause` chain. Anything else unknown is 101, so a runtime
 * that treats 11 specially does not retry forever what can never succeed.
 */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  const code = codeOf(err);
  const details = err instanceof TransientError || err instanceof PluginError ? err.details : '';
  return new CniError(code, errorMessage(err), details);
}

function codeOf(err: unknown): number {
  if (err instanceof RequestEnvError) return CniCode.InvalidEnvironment;
  if (err instanceof DecodeError) return CniCode.DecodeFailure;
  if (err instanceof VersionError) return CniCode.IncompatibleVersion;
  if (err instanceof InvalidInputError || err instanceof NotFoundError)
    return CniCode.InvalidConfig;
  if (err instanceof VfInUseError) return CniCode.InvalidConfig;
  if (err instanceof CheckMismatchError) return PluginCode.CheckMismatch;
  if (err instanceof PluginError) return err.code;
  if (err instanceof NotReadyError) return CniCode.NotAvailable;
  return isTransient(err) ? CniCode.TryAgainLater : PluginCode.HostFailure;
}

/** A retryable error, a timeout or a timed-out command anywhere in the `cause` chain. */
export function isTransient(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 10 && typeof e === 'object' && e !== null; depth++) {
    if (e instanceof TimeoutError) return true;
    if (e instanceof CommandError && e.timedOut) return true;
    if ('retryable' in e && e.retryable === true) return true;
    e = 'cause' in e ? e.cause : undefined;
  }
  return false;
}

export function httpStatusOf(code: number): number {
  if (code >= 1 && code <= 7) return 400;
  if (
    code === CniCode.TryAgainLater ||
    code === CniCode.NotAvailable ||
    code === CniCode.LimitedConnectivity
  )
    return 503;
  return 500;
}
