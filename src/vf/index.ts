export * from './types.js';
export * from './devlink.js';
export * from './portnames.js';
export * from './switch-ports.js';
export * from './snapshot.js';
export { parseInventory, findVf, isSrIovPf, pfEswitch } from './inventory.js';
export {
  readInventory,
  readInventorySnapshot,
  readPf,
  resolvePfPci,
  netdevsOf,
  virtfnIndexes,
} from './read.js';
export { setNumVfs, NUMVFS_TIMEOUT_MS, type NumVfsOptions } from './numvfs.js';
export { USERSPACE_DRIVERS, isUserspaceDriver } from './userspace.js';
export {
  bindDriver,
  unbindDriver,
  probeDriver,
  assertDriverName,
  type BindOptions,
} from './driver.js';
export * from './knob-types.js';
export * from './knobs.js';
export * from './admin-mac.js';
export { parseVfInfoText } from './vfinfo-text.js';
