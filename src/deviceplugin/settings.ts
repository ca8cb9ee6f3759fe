import type { Files } from '../sys/index.js';
import { parseResourceList, parseSriovDpConfig, type ResourceConfig } from './config.js';

/**
 * The agent config's `devicePlugin:` section (DESIGN.md §3.5), as this folder needs it: the
 * pools come from a sriov-network-device-plugin config file or from an inline list.
 */
export interface DevicePluginSection {
  configFile?: string | undefined;
  resourceList?: unknown[] | undefined;
  resourcePrefix: string;
  kubeletDir: string;
  devinfoDir: string;
}

export interface DevicePluginSettings {
  resources: ResourceConfig[];
  /** Accepted-but-dubious config (e.g. resourceList as one object): log them. */
  warnings: string[];
  kubeletDir: string;
  devinfoDir: string;
}

export async function loadDevicePluginSettings(
  section: DevicePluginSection,
  files: Files,
): Promise<DevicePluginSettings> {
  const defaultPrefix = section.resourcePrefix;
  const parsed =
    section.resourceList !== undefined
      ? parseResourceList(section.resourceList, {
          defaultPrefix,
          source: 'devicePlugin.resourceList',
          at: ['devicePlugin', 'resourceList'],
        })
      : parseSriovDpConfig(await files.readText(section.configFile ?? '/etc/pcidp/config.json'), {
          defaultPrefix,
          source: section.configFile ?? '/etc/pcidp/config.json',
        });
  return {
    resources: parsed.resources,
    warnings: parsed.warnings,
    kubeletDir: section.kubeletDir,
    devinfoDir: section.devinfoDir,
  };
}
