import { CniCode, CniError } from '../cni/errors.js';
import { errorMessage, InvalidInputError, NotFoundError, TimeoutError } from '../sys/index.js';

/**
 * The CNI edge of the agent: typed errors become CNI codes here and nowhere else.
 * Bad input is 7 (the runtime will not fix it by retrying); everything transient is 11.
 */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof InvalidInputError) return new CniError(CniCode.InvalidConfig, err.message);
  if (err instanceof NotFoundError) return new CniError(CniCode.InvalidConfig, err.message);
  if (err instanceof TimeoutError) return new CniError(CniCode.TryAgainLater, err.message);
  if (
    typeof err === 'object' &&
    err !== null &&
    (err as { retryable?: unknown }).retryable === true
  ) {
    return new CniError(CniCode.TryAgainLater, errorMessage(err));
  }
  return new CniError(CniCode.TryAgainLater, errorMessage(err));
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
