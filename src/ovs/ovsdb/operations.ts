import type { Row, Value } from './values.js';

/** RFC 7047 §5.1 <condition>: [column, function, value]. */
export type ConditionFunction = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'includes' | 'excludes';
export type Condition = [column: string, fn: ConditionFunction, value: Value];

/** RFC 7047 §5.1 <mutation>: [column, mutator, value]. */
export type Mutator = '+=' | '-=' | '*=' | '/=' | '%=' | 'insert' | 'delete';
export type Mutation = [column: string, mutator: Mutator, value: Value];

/** RFC 7047 §5.2: the operations of a transaction. */
export type Operation =
  | { op: 'insert'; table: string; row: Row; 'uuid-name'?: string }
  | { op: 'select'; table: string; where: Condition[]; columns?: string[] }
  | { op: 'update'; table: string; where: Condition[]; row: Row }
  | { op: 'mutate'; table: string; where: Condition[]; mutations: Mutation[] }
  | { op: 'delete'; table: string; where: Condition[] }
  | {
      op: 'wait';
      table: string;
      where: Condition[];
      columns: string[];
      until: '==' | '!=';
      rows: Row[];
      /** Milliseconds the server may hold the transaction; 0 fails at once ("timed out"). */
      timeout?: number;
    }
  | { op: 'commit'; durable: boolean }
  | { op: 'abort' }
  | { op: 'comment'; comment: string }
  | { op: 'assert'; lock: string };

/** The result of one successful operation (which members are present depends on the op). */
export interface OperationResult {
  /** insert: the new row's UUID. */
  uuid?: string;
  /** select: the matching rows. */
  rows?: Row[];
  /** update, mutate, delete: how many rows matched. */
  count?: number;
}

/**
 * A "this row is exactly so" guard: fails the whole transaction at once ("timed out") unless
 * the rows selected by `where` are `rows`. It is how a transaction states its preconditions
 * (the bridge exists, the port is still ours), so nothing is changed when they do not hold.
 */
export function guard(
  table: string,
  where: Condition[],
  rows: Row[],
  columns: string[],
): Operation {
  return { op: 'wait', table, where, columns, until: '==', rows, timeout: 0 };
}
