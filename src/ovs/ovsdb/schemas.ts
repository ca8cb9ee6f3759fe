import { z } from 'zod';
import type { Atom, Row, Value } from './values.js';

/**
 * zod schemas of everything we read from ovsdb-server and rely on the shape of. The server is
 * trusted to speak RFC 7047, but a proxy, a relay or a version skew must produce a clear
 * protocol error, never a TypeError deep in a consumer.
 */

const uuidAtom = z.tuple([z.literal('uuid'), z.string()]);
const namedUuidAtom = z.tuple([z.literal('named-uuid'), z.string()]);
export const atomSchema: z.ZodType<Atom> = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  uuidAtom,
  namedUuidAtom,
]);
export const valueSchema: z.ZodType<Value> = z.union([
  atomSchema,
  z.tuple([z.literal('set'), z.array(atomSchema)]),
  z.tuple([z.literal('map'), z.array(z.tuple([atomSchema, atomSchema]))]),
]);
export const rowSchema: z.ZodType<Row> = z.record(z.string(), valueSchema);

/** Any JSON-RPC 1.0 message; which kind it is follows from id/method/result (see connection). */
export const rpcMessageSchema = z.object({
  id: z.unknown().optional(),
  method: z.string().optional(),
  params: z.array(z.unknown()).optional(),
  result: z.unknown().optional(),
  error: z.unknown().optional(),
});
export type RpcMessage = z.infer<typeof rpcMessageSchema>;

/** An OVSDB error object (RFC 7047 §3.1): also the JSON-RPC `error` of most failed requests. */
export const errorObjectSchema = z.looseObject({
  error: z.string(),
  details: z.string().optional(),
});

export const operationResultSchema = z
  .looseObject({
    uuid: uuidAtom.optional(),
    rows: z.array(rowSchema).optional(),
    count: z.number().int().optional(),
  })
  .transform((r) => ({
    ...(r.uuid ? { uuid: r.uuid[1] } : {}),
    ...(r.rows ? { rows: r.rows } : {}),
    ...(r.count !== undefined ? { count: r.count } : {}),
  }));

export const listDbsSchema = z.array(z.string());

/** RFC 7047 §4.1.6 <table-updates> (the `monitor` method and `update` notifications). */
export const tableUpdatesSchema = z.record(
  z.string(),
  z.record(z.string(), z.object({ old: rowSchema.optional(), new: rowSchema.optional() })),
);
export type TableUpdates = z.infer<typeof tableUpdatesSchema>;

/** <table-updates2> (`monitor_cond` and `update2`): `modify` carries diffs, not rows. */
export const tableUpdates2Schema = z.record(
  z.string(),
  z.record(
    z.string(),
    z.object({
      initial: rowSchema.optional(),
      insert: rowSchema.optional(),
      modify: rowSchema.optional(),
      delete: z.null().optional(),
    }),
  ),
);
export type TableUpdates2 = z.infer<typeof tableUpdates2Schema>;

const baseTypeSchema = z.union([z.string(), z.looseObject({ type: z.string() })]);
export const columnTypeSchema = z.union([
  z.string(),
  z.looseObject({
    key: baseTypeSchema,
    value: baseTypeSchema.optional(),
    min: z.number().int().optional(),
    max: z.union([z.number().int(), z.literal('unlimited')]).optional(),
  }),
]);

/** RFC 7047 §3.2 <database-schema>, the parts a client needs. */
export const databaseSchemaSchema = z.looseObject({
  name: z.string(),
  version: z.string().optional(),
  tables: z.record(
    z.string(),
    z.looseObject({
      columns: z.record(z.string(), z.looseObject({ type: columnTypeSchema })),
      isRoot: z.boolean().optional(),
      indexes: z.array(z.array(z.string())).optional(),
    }),
  ),
});
export type DatabaseSchema = z.infer<typeof databaseSchemaSchema>;
