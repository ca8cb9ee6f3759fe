export * from './client.js';
export * from './endpoint.js';
export * from './splitter.js';
export * from './values.js';
export * from './operations.js';
export * from './monitor.js';
export * from './cache.js';
export * from './transact-result.js';
export type { DatabaseSchema } from './schemas.js';
