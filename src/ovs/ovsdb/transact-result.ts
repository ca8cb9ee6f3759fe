import { OvsdbError, OvsdbProtocolError } from '../errors.js';
import type { Operation, OperationResult } from './operations.js';
import { errorObjectSchema, operationResultSchema } from './schemas.js';

/**
 * Checks the `result` of a transact reply (RFC 7047 §4.1.3) and returns one result per
 * operation, or throws the first failure. The shapes ovsdb-server produces:
 *
 * - all succeeded: exactly one result object per operation;
 * - operation i failed: results 0..i-1, then an error object at i, then `null` for every
 *   operation that was not attempted (nothing was committed);
 * - every operation succeeded but the commit failed (constraint or referential integrity
 *   checks run at commit): one result per operation plus one extra trailing error object;
 * - the request as a whole was malformed: a lone error object instead of the array.
 *
 * Anything else (fewer results than operations, more than one extra, a `null` with no error
 * before it) is a protocol error: we cannot tell what was applied, so we must not guess.
 */
export function checkTransactResult(
  db: string,
  ops: readonly Operation[],
  result: unknown,
): OperationResult[] {
  const context = `transact ${db}`;
  const protocol = (why: string) => new OvsdbProtocolError(`${context}: ${why}`);
  if (!Array.isArray(result)) {
    const e = errorObjectSchema.safeParse(result);
    if (e.success) throw new OvsdbError('transact', e.data.error, e.data.details, { context });
    throw protocol('reply result is neither an array nor an error object');
  }
  const n = ops.length;
  if (result.length < n) {
    throw protocol(`reply has ${result.length} results for ${n} operations`);
  }
  if (result.length > n + 1) {
    throw protocol(`reply has ${result.length} results for ${n} operations (at most one extra)`);
  }
  const out: OperationResult[] = [];
  for (let i = 0; i < n; i++) {
    const r: unknown = result[i];
    if (r === null) throw protocol(`operation ${i} was not attempted, yet no operation failed`);
    const e = errorObjectSchema.safeParse(r);
    if (e.success) {
      // Later results must be null; we report the first failure, which is the cause.
      throw new OvsdbError(ops[i]?.op ?? 'unknown', e.data.error, e.data.details, {
        context,
        index: i,
      });
    }
    const ok = operationResultSchema.safeParse(r);
    if (!ok.success) throw protocol(`result ${i} is malformed: ${ok.error.message}`);
    out.push(ok.data);
  }
  if (result.length === n + 1) {
    const e = errorObjectSchema.safeParse(result[n]);
    if (!e.success) throw protocol('reply has an extra result that is not a commit error');
    throw new OvsdbError('commit', e.data.error, e.data.details, { context });
  }
  return out;
}
