import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { packageRoot } from '../sys/paths.js';
import type { ProtoGrpcType as DevicePluginProto } from './generated/deviceplugin-v1beta1.js';
import type { ProtoGrpcType as PluginRegistrationProto } from './generated/pluginregistration-v1.js';
import type { RegistrationHandlers as PluginRegistrationHandlers } from './generated/pluginregistration/Registration.js';
import type { DevicePluginHandlers } from './generated/v1beta1/DevicePlugin.js';
import type { RegistrationHandlers } from './generated/v1beta1/Registration.js';

/**
 * The kubelet's two gRPC APIs (proto/*.proto), loaded at run time with proto-loader. Their
 * TypeScript shapes are generated from the same files into generated/ (`npm run gen:proto`;
 * a unit test fails when they drift). Field names are the .proto names verbatim (keepCase),
 * so a message reads exactly like the published API; int64 values arrive as numbers (NUMA ids
 * are small).
 *
 * A message type below is the generated `__Output` form: every field present (defaults,
 * arrays), a message field null when unset. That is what a handler or a client receives, and
 * what our own code builds, so nothing is left optional by accident.
 */

export const API_VERSION = 'v1beta1';
export const HEALTHY = 'Healthy';
export const UNHEALTHY = 'Unhealthy';
export type Health = typeof HEALTHY | typeof UNHEALTHY;

type V1beta1 = DevicePluginProto['v1beta1'];
type PluginRegistration = PluginRegistrationProto['pluginregistration'];
/** The `__Output` type of a generated message definition. */
type Message<T> = T extends protoLoader.MessageTypeDefinition<object, infer O> ? O : never;

// ---- v1beta1 (device plugin) messages ----

export type Empty = Message<V1beta1['Empty']>;
export type DevicePluginOptions = Message<V1beta1['DevicePluginOptions']>;
export type RegisterRequest = Message<V1beta1['RegisterRequest']>;
export type NumaNode = Message<V1beta1['NUMANode']>;
export type TopologyInfo = Message<V1beta1['TopologyInfo']>;
export type Device = Message<V1beta1['Device']>;
export type ListAndWatchResponse = Message<V1beta1['ListAndWatchResponse']>;
export type PreStartContainerRequest = Message<V1beta1['PreStartContainerRequest']>;
export type PreStartContainerResponse = Message<V1beta1['PreStartContainerResponse']>;
export type ContainerPreferredAllocationRequest = Message<
  V1beta1['ContainerPreferredAllocationRequest']
>;
export type PreferredAllocationRequest = Message<V1beta1['PreferredAllocationRequest']>;
export type ContainerPreferredAllocationResponse = Message<
  V1beta1['ContainerPreferredAllocationResponse']
>;
export type PreferredAllocationResponse = Message<V1beta1['PreferredAllocationResponse']>;
export type ContainerAllocateRequest = Message<V1beta1['ContainerAllocateRequest']>;
export type AllocateRequest = Message<V1beta1['AllocateRequest']>;
export type Mount = Message<V1beta1['Mount']>;
export type DeviceSpec = Message<V1beta1['DeviceSpec']>;
export type CdiDevice = Message<V1beta1['CDIDevice']>;
export type ContainerAllocateResponse = Message<V1beta1['ContainerAllocateResponse']>;
export type AllocateResponse = Message<V1beta1['AllocateResponse']>;

// ---- pluginregistration (plugin watcher) messages ----

export type InfoRequest = Message<PluginRegistration['InfoRequest']>;
export type PluginInfo = Message<PluginRegistration['PluginInfo']>;
export type RegistrationStatus = Message<PluginRegistration['RegistrationStatus']>;
export type RegistrationStatusResponse = Message<PluginRegistration['RegistrationStatusResponse']>;

// ---- service implementations (what a server provides) ----

export type DevicePluginImpl = DevicePluginHandlers;

/** The kubelet side of v1beta1 registration (served on device-plugins/kubelet.sock). */
export type KubeletRegistrationImpl = RegistrationHandlers;

/** The plugin side of plugin-watcher registration (served in plugins_registry/). */
export type PluginRegistrationImpl = PluginRegistrationHandlers;

/** One service: its definition (`service`), and each method by name (for clients). */
export type ServiceApi<D extends grpc.ServiceDefinition> = { readonly service: D } & {
  readonly [M in keyof D as string extends M ? never : M]: D[M];
};

export interface KubeletApis {
  devicePlugin: ServiceApi<V1beta1['DevicePlugin']['service']>;
  registration: ServiceApi<V1beta1['Registration']['service']>;
  pluginRegistration: ServiceApi<PluginRegistration['Registration']['service']>;
}

const PROTO_FILES = ['deviceplugin-v1beta1.proto', 'pluginregistration-v1.proto'];

function api<D extends grpc.ServiceDefinition>(service: D): ServiceApi<D> {
  return { ...service, service };
}

let cached: KubeletApis | undefined;

/** Loads proto/ once per process (from the package root, so it works from src/ and dist/). */
export function kubeletApis(): KubeletApis {
  if (cached) return cached;
  const dir = path.join(packageRoot(), 'proto');
  // Keep these options and those in scripts/gen-proto.mjs the same: the generated types
  // describe what proto-loader produces with them.
  const def = protoLoader.loadSync(
    PROTO_FILES.map((f) => path.join(dir, f)),
    { keepCase: true, longs: Number, enums: String, defaults: true, arrays: true, objects: false },
  );
  // The one untyped boundary: loadPackageDefinition returns a GrpcObject built from whatever
  // the .proto files say. The generated ProtoGrpcType describes those same files, and the unit
  // test that regenerates it keeps the two in step.
  const pkg = grpc.loadPackageDefinition(def) as unknown as DevicePluginProto &
    PluginRegistrationProto;
  cached = {
    devicePlugin: api(pkg.v1beta1.DevicePlugin.service),
    registration: api(pkg.v1beta1.Registration.service),
    pluginRegistration: api(pkg.pluginregistration.Registration.service),
  };
  return cached;
}
