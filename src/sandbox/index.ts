export * from './sandbox.js';
export * from './ovs.js';
export * from './ovn.js';
export * from './names.js';
export * from './nic/emulate.js';
export type { Fault, CallRecord, NicStateView, PfView, VfView, VfKnobs } from './nic/protocol.js';
export { IDENTITIES, type IdentityName } from './nic/identity.js';
export * from './agent-process.js';
