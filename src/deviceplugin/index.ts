export {
  DevicePluginManager,
  type AllocatedDevice,
  type DevicePluginManagerOptions,
  type PoolStatus,
} from './manager.js';
export {
  loadDevicePluginSettings,
  type DevicePluginSection,
  type DevicePluginSettings,
} from './settings.js';
export {
  DEFAULT_RESOURCE_PREFIX,
  parseResourceList,
  parseSriovDpConfig,
  type ResourceConfig,
} from './config.js';
export { envName } from './allocate.js';
export { socketName } from './registration.js';
export type { PoolDevice, PfState, NodeSnapshot } from './model.js';
export type { SnapshotSource } from './inventory.js';
export {
  dpdkUplinkState,
  uplinkPortOf,
  withDpdkUplink,
  type DpdkLinkSource,
  type DpdkPortLink,
} from './dpdk-uplink.js';
