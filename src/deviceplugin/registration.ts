import * as path from 'node:path';
import { unary, unixClient } from './grpc-client.js';
import {
  API_VERSION,
  kubeletApis,
  type PluginInfo,
  type PluginRegistrationImpl,
  type RegistrationStatus,
} from './proto.js';
import { PLUGIN_OPTIONS } from './service.js';

/**
 * The two ways a device plugin introduces itself to the kubelet:
 *  - plugin watcher (kubelet ≥ 1.13 with <kubeletDir>/plugins_registry): the kubelet finds our
 *    socket there, calls GetInfo, connects to the endpoint we name, and tells us the outcome
 *    with NotifyRegistrationStatus;
 *  - Register on <kubeletDir>/device-plugins/kubelet.sock: we call the kubelet, naming our
 *    socket by its basename in the same directory.
 */

export type RegistrationMode = 'plugin-watcher' | 'kubelet-register';

export const DEVICE_PLUGINS_DIR = 'device-plugins';
export const PLUGINS_REGISTRY_DIR = 'plugins_registry';
export const KUBELET_SOCKET = 'kubelet.sock';

/** `<prefix>/<name>` as a socket basename: only [A-Za-z0-9_.-]. */
export function socketName(fullName: string): string {
  return `${fullName.replace(/\//g, '_').replace(/[^A-Za-z0-9_.-]/g, '_')}.sock`;
}

export interface KubeletPaths {
  devicePluginsDir: string;
  registryDir: string;
  kubeletSocket: string;
}

export function kubeletPaths(kubeletDir: string): KubeletPaths {
  return {
    devicePluginsDir: path.join(kubeletDir, DEVICE_PLUGINS_DIR),
    registryDir: path.join(kubeletDir, PLUGINS_REGISTRY_DIR),
    kubeletSocket: path.join(kubeletDir, DEVICE_PLUGINS_DIR, KUBELET_SOCKET),
  };
}

/** Calls the kubelet's Registration.Register; rejects with the kubelet's reason. */
export async function registerWithKubelet(
  kubeletSocket: string,
  endpointBasename: string,
  resourceName: string,
  timeoutMs: number,
): Promise<void> {
  const client = unixClient(kubeletSocket);
  try {
    await unary(
      client,
      kubeletApis().registration.Register,
      {
        version: API_VERSION,
        endpoint: endpointBasename,
        resource_name: resourceName,
        options: PLUGIN_OPTIONS,
      },
      timeoutMs,
    );
  } finally {
    client.close();
  }
}

export function pluginInfo(resourceName: string, endpoint: string): PluginInfo {
  return {
    type: 'DevicePlugin',
    name: resourceName,
    endpoint,
    supported_versions: [API_VERSION],
  };
}

export function pluginRegistrationService(
  info: () => PluginInfo,
  onStatus: (status: RegistrationStatus) => void,
): PluginRegistrationImpl {
  return {
    GetInfo: (_call, cb) => cb(null, info()),
    NotifyRegistrationStatus: (call, cb) => {
      cb(null, {});
      onStatus(call.request);
    },
  };
}
