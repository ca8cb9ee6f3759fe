import { CniCode, CniError } from '../../cni/errors.js';
import { deviceIdOf, ifaceIdOf, parseNetConf, type NetConf } from '../../cni/netconf.js';
import type { AgentRequest } from '../../cni/types.js';
import { isSupported } from '../../cni/version.js';

/** A CNI request as the attachment code works with it: validated, with pod identity. */
export interface AttachRequest {
  containerID: string;
  netns: string;
  ifName: string;
  conf: NetConf;
  cniVersion: string;
  pod: { name: string; namespace: string; uid?: string };
  /** Raw CNI_ARGS re-joined (IPAM plugins get it as the runtime sent it). */
  cniArgs: string;
  path: string;
  deviceId: string | undefined;
  ifaceId: string;
  /** The raw config as received (IPAM plugins and prevResult come from it). */
  raw: Record<string, unknown>;
}

const IFNAME_RE = /^[^/:\s]{1,15}$/;
const CONTAINER_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$/;

/** Re-validates what the front end sent: the agent's API has other clients than it. */
export function parseAttachRequest(req: AgentRequest, op: 'add' | 'del' | 'check'): AttachRequest {
  if (!CONTAINER_RE.test(req.containerID)) {
    throw new CniError(
      CniCode.InvalidEnvironment,
      `CNI_CONTAINERID: ${JSON.stringify(req.containerID)} is not a container id`,
    );
  }
  if (!IFNAME_RE.test(req.ifName)) {
    throw new CniError(
      CniCode.InvalidEnvironment,
      `CNI_IFNAME: ${JSON.stringify(req.ifName)} is not a valid interface name`,
    );
  }
  if (op !== 'del' && !req.netns.startsWith('/')) {
    throw new CniError(
      CniCode.InvalidEnvironment,
      `CNI_NETNS: ${JSON.stringify(req.netns)} is not an absolute path`,
    );
  }
  if (!isSupported(req.config.cniVersion)) {
    throw new CniError(
      CniCode.IncompatibleVersion,
      `incompatible CNI version ${JSON.stringify(req.config.cniVersion)}`,
    );
  }
  const conf = parseNetConf(req.config);
  const name = req.args.K8S_POD_NAME ?? '';
  const namespace = req.args.K8S_POD_NAMESPACE ?? '';
  if (op === 'add' && (!name || !namespace)) {
    throw new CniError(
      CniCode.InvalidEnvironment,
      'CNI_ARGS: K8S_POD_NAME and K8S_POD_NAMESPACE are required',
    );
  }
  const uid = req.args.K8S_POD_UID;
  return {
    containerID: req.containerID,
    netns: req.netns,
    ifName: req.ifName,
    conf,
    cniVersion: conf.cniVersion,
    pod: { name, namespace, ...(uid ? { uid } : {}) },
    cniArgs: Object.entries(req.args)
      .map(([k, v]) => `${k}=${v}`)
      .join(';'),
    path: req.path,
    deviceId: deviceIdOf(conf),
    ifaceId: ifaceIdOf(conf.provider, name, namespace),
    raw: req.config,
  };
}
