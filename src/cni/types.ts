/** CNI result and the CNI ↔ agent API bodies (docs/cni.md). */

export interface CniResultInterface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

export interface CniIp {
  address: string;
  gateway?: string;
  interface?: number;
  /** 0.3.x/0.4.0 only. */
  version?: string;
}

export interface CniRoute {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface CniResult {
  cniVersion: string;
  interfaces?: CniResultInterface[];
  ips?: CniIp[];
  routes?: CniRoute[];
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
}

export type CniOp = 'add' | 'del' | 'check' | 'gc' | 'status';

/** Body of POST /api/v1/<op>: everything the front end received, untouched. */
export interface AgentRequest {
  containerID: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS parsed into key → value (IgnoreUnknown and K8S_* included). */
  args: Record<string, string>;
  /** CNI_PATH. */
  path: string;
  /** The NetConf exactly as received on stdin. */
  config: Record<string, unknown>;
}

export interface AgentErrorBody {
  code: number;
  msg: string;
  details?: string;
}
