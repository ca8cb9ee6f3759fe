import * as path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { packageRoot } from '../sys/paths.js';

/**
 * The kubelet's two gRPC APIs (proto/*.proto), loaded at run time with proto-loader and given
 * TypeScript shapes here. Field names are the .proto names verbatim (keepCase), so a message
 * below reads exactly like the published API; int64 values arrive as numbers (NUMA ids are
 * small).
 */

export const API_VERSION = 'v1beta1';
export const HEALTHY = 'Healthy';
export const UNHEALTHY = 'Unhealthy';
export type Health = typeof HEALTHY | typeof UNHEALTHY;

// ---- v1beta1 (device plugin) messages ----

export type Empty = Record<string, never>;

export interface DevicePluginOptions {
  pre_start_required: boolean;
  get_preferred_allocation_available: boolean;
}

export interface RegisterRequest {
  version: string;
  endpoint: string;
  resource_name: string;
  options: DevicePluginOptions | null;
}

export interface NumaNode {
  ID: number;
}

export interface TopologyInfo {
  nodes: NumaNode[];
}

export interface Device {
  ID: string;
  health: string;
  topology: TopologyInfo | null;
}

export interface ListAndWatchResponse {
  devices: Device[];
}

export interface PreStartContainerRequest {
  devices_ids: string[];
}

export type PreStartContainerResponse = Empty;

export interface ContainerPreferredAllocationRequest {
  available_deviceIDs: string[];
  must_include_deviceIDs: string[];
  allocation_size: number;
}

export interface PreferredAllocationRequest {
  container_requests: ContainerPreferredAllocationRequest[];
}

export interface ContainerPreferredAllocationResponse {
  deviceIDs: string[];
}

export interface PreferredAllocationResponse {
  container_responses: ContainerPreferredAllocationResponse[];
}

export interface ContainerAllocateRequest {
  devices_ids: string[];
}

export interface AllocateRequest {
  container_requests: ContainerAllocateRequest[];
}

export interface Mount {
  container_path: string;
  host_path: string;
  read_only: boolean;
}

export interface DeviceSpec {
  container_path: string;
  host_path: string;
  permissions: string;
}

export interface CdiDevice {
  name: string;
}

export interface ContainerAllocateResponse {
  envs: Record<string, string>;
  mounts: Mount[];
  devices: DeviceSpec[];
  annotations: Record<string, string>;
  cdi_devices: CdiDevice[];
}

export interface AllocateResponse {
  container_responses: ContainerAllocateResponse[];
}

// ---- pluginregistration (plugin watcher) messages ----

export type InfoRequest = Empty;

export interface PluginInfo {
  type: string;
  name: string;
  endpoint: string;
  supported_versions: string[];
}

export interface RegistrationStatus {
  plugin_registered: boolean;
  error: string;
}

export type RegistrationStatusResponse = Empty;

// ---- service implementations (what a server provides) ----

export interface DevicePluginImpl extends grpc.UntypedServiceImplementation {
  GetDevicePluginOptions: grpc.handleUnaryCall<Empty, DevicePluginOptions>;
  ListAndWatch: grpc.handleServerStreamingCall<Empty, ListAndWatchResponse>;
  GetPreferredAllocation: grpc.handleUnaryCall<
    PreferredAllocationRequest,
    PreferredAllocationResponse
  >;
  Allocate: grpc.handleUnaryCall<AllocateRequest, AllocateResponse>;
  PreStartContainer: grpc.handleUnaryCall<PreStartContainerRequest, PreStartContainerResponse>;
}

/** The kubelet side of v1beta1 registration (served on device-plugins/kubelet.sock). */
export interface KubeletRegistrationImpl extends grpc.UntypedServiceImplementation {
  Register: grpc.handleUnaryCall<RegisterRequest, Empty>;
}

/** The plugin side of plugin-watcher registration (served in plugins_registry/). */
export interface PluginRegistrationImpl extends grpc.UntypedServiceImplementation {
  GetInfo: grpc.handleUnaryCall<InfoRequest, PluginInfo>;
  NotifyRegistrationStatus: grpc.handleUnaryCall<RegistrationStatus, RegistrationStatusResponse>;
}

type Method<Req, Res> = grpc.MethodDefinition<Req, Res>;

export interface KubeletApis {
  devicePlugin: {
    service: grpc.ServiceDefinition<DevicePluginImpl>;
    GetDevicePluginOptions: Method<Empty, DevicePluginOptions>;
    ListAndWatch: Method<Empty, ListAndWatchResponse>;
    GetPreferredAllocation: Method<PreferredAllocationRequest, PreferredAllocationResponse>;
    Allocate: Method<AllocateRequest, AllocateResponse>;
    PreStartContainer: Method<PreStartContainerRequest, PreStartContainerResponse>;
  };
  registration: {
    service: grpc.ServiceDefinition<KubeletRegistrationImpl>;
    Register: Method<RegisterRequest, Empty>;
  };
  pluginRegistration: {
    service: grpc.ServiceDefinition<PluginRegistrationImpl>;
    GetInfo: Method<InfoRequest, PluginInfo>;
    NotifyRegistrationStatus: Method<RegistrationStatus, RegistrationStatusResponse>;
  };
}

const PROTO_FILES = ['deviceplugin-v1beta1.proto', 'pluginregistration-v1.proto'];

function serviceOf(
  def: protoLoader.PackageDefinition,
  name: string,
): protoLoader.ServiceDefinition {
  const d = def[name];
  // Message and enum definitions carry `format`; a service is a plain map of methods.
  if (d === undefined || 'format' in d) throw new Error(`proto: service ${name} not found`);
  return d;
}

function methodOf<Req, Res>(svc: protoLoader.ServiceDefinition, name: string): Method<Req, Res> {
  const m = svc[name];
  if (m === undefined) throw new Error(`proto: method ${name} not found`);
  return m as unknown as Method<Req, Res>;
}

let cached: KubeletApis | undefined;

/** Loads proto/ once per process (from the package root, so it works from src/ and dist/). */
export function kubeletApis(): KubeletApis {
  if (cached) return cached;
  const dir = path.join(packageRoot(), 'proto');
  const def = protoLoader.loadSync(
    PROTO_FILES.map((f) => path.join(dir, f)),
    { keepCase: true, longs: Number, enums: String, defaults: true, arrays: true, objects: false },
  );
  const dp = serviceOf(def, 'v1beta1.DevicePlugin');
  const reg = serviceOf(def, 'v1beta1.Registration');
  const preg = serviceOf(def, 'pluginregistration.Registration');
  cached = {
    devicePlugin: {
      service: dp as unknown as grpc.ServiceDefinition<DevicePluginImpl>,
      GetDevicePluginOptions: methodOf(dp, 'GetDevicePluginOptions'),
      ListAndWatch: methodOf(dp, 'ListAndWatch'),
      GetPreferredAllocation: methodOf(dp, 'GetPreferredAllocation'),
      Allocate: methodOf(dp, 'Allocate'),
      PreStartContainer: methodOf(dp, 'PreStartContainer'),
    },
    registration: {
      service: reg as unknown as grpc.ServiceDefinition<KubeletRegistrationImpl>,
      Register: methodOf(reg, 'Register'),
    },
    pluginRegistration: {
      service: preg as unknown as grpc.ServiceDefinition<PluginRegistrationImpl>,
      GetInfo: methodOf(preg, 'GetInfo'),
      NotifyRegistrationStatus: methodOf(preg, 'NotifyRegistrationStatus'),
    },
  };
  return cached;
}
