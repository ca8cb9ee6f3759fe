import { deviceIdOf, ifaceIdOf, parseNetConf, type NetConf } from '../../cni/netconf.js';
import type { AgentRequest } from '../../cni/types.js';
import { CNI_NAME_RE, ifNameProblem, quote } from '../../cni/names.js';
import { isSupported } from '../../cni/version.js';
import { podIdentityOf, type PodIdentity } from '../../cni/env.js';
import { RequestEnvError, VersionError } from '../errors.js';
import { containerIfaceId } from './keys.js';

/**
 * A CNI request as the attachment code works with it: validated, with its pod identity
 * (empty name and namespace when the runtime sent none: a libcni client outside Kubernetes).
 */
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

/**
 * Container IDs as the CNI spec allows them (alphanumeric first, then alphanumerics, `_`,
 * `.`, `-`). Runtimes may send long ones (a sandbox ID plus a suffix): up to 4096 bytes are
 * accepted; the state store bounds its file names itself.
 */
const CONTAINER_MAX = 4096;

/** The kernel's own rule for a netdev name (dev_valid_name), as the front end checks it. */
export function validIfName(name: string): boolean {
  return ifNameProblem(name) === null;
}

/** Re-validates what the front end sent: the agent's API has other clients than it. */
export function parseAttachRequest(req: AgentRequest, op: 'add' | 'del' | 'check'): AttachRequest {
  if (!CNI_NAME_RE.test(req.containerID) || req.containerID.length > CONTAINER_MAX) {
    throw new RequestEnvError(
      'CNI_CONTAINERID',
      `${quote(req.containerID)} is not a container id (alphanumerics, '_', '.', '-'; up to ${CONTAINER_MAX} bytes)`,
    );
  }
  const ifProblem = ifNameProblem(req.ifName);
  if (ifProblem !== null) {
    // Anything the kernel would refuse fails here, not half-way through ADD after the move.
    throw new RequestEnvError('CNI_IFNAME', `${quote(req.ifName)} ${ifProblem}`);
  }
  if (op !== 'del' && !req.netns.startsWith('/')) {
    throw new RequestEnvError('CNI_NETNS', `${JSON.stringify(req.netns)} is not an absolute path`);
  }
  if (req.netns !== '' && (!req.netns.startsWith('/') || req.netns.includes('\0'))) {
    throw new RequestEnvError('CNI_NETNS', `${JSON.stringify(req.netns)} is not an absolute path`);
  }
  if (!isSupported(req.config.cniVersion)) {
    throw new VersionError(`incompatible CNI version ${JSON.stringify(req.config.cniVersion)}`);
  }
  const conf = parseNetConf(req.config);
  // ADD refuses half an identity (code 4, as the front end has it: the agent has other
  // clients); DEL and CHECK find the attachment by container ID and ifName, not by pod.
  const pod = op === 'add' ? podIdentityOf(req.args) : lenientIdentity(req.args);
  if (op === 'add' && pod === null && conf.provider !== undefined) {
    // Kube-OVN's addresses, MAC and iface-id are the pod's annotations: no pod, no port.
    throw new RequestEnvError(
      'CNI_ARGS',
      `K8S_POD_NAME and K8S_POD_NAMESPACE are required: provider ${JSON.stringify(conf.provider)} serves Kubernetes pods`,
    );
  }
  const name = pod?.name ?? '';
  const namespace = pod?.namespace ?? '';
  const uid = pod?.uid;
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
    ifaceId:
      pod === null
        ? containerIfaceId(req.containerID, req.ifName)
        : ifaceIdOf(conf.provider, name, namespace),
    raw: req.config,
  };
}

function lenientIdentity(args: Readonly<Record<string, string>>): PodIdentity | null {
  try {
    return podIdentityOf(args);
  } catch {
    return null;
  }
}
