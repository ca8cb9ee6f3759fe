import type { Vswitch } from '../../ovs/vswitch.js';
import type { Ip } from '../../sys/index.js';

/**
 * external_ids key (Port and Interface) naming the attachment a pod port was made for,
 * `<containerID>/<ifName>`: DEL without a state file, GC and teardown find exactly their
 * own port by it. It sits beside the Kube-OVN keys and our owner key (DESIGN §3.7).
 */
export const ATTACHMENT_KEY = 'ovs-offload-attachment';

/** The ATTACHMENT_KEY value (and the attachment index key): `<containerID>/<ifName>`. */
export function attachmentKey(containerID: string, ifName: string): string {
  return `${containerID}/${ifName}`;
}

/**
 * The OVN iface-id of an attachment whose runtime sent no Kubernetes identity (`ctr run
 * --cni`, any libcni client outside Kubernetes): `<containerID>/<ifName>`. Stable across
 * ADD, CHECK and DEL of the same attachment, unique per attachment, and unable to collide
 * with Kube-OVN's `<pod>.<ns>[.<provider>[.<ifName>]]`: Kubernetes names never contain `/`,
 * and neither do container IDs or interface names, so the split is unambiguous. OVN takes
 * any string as a logical port name; the one to bind must be created under this name.
 */
export function containerIfaceId(containerID: string, ifName: string): string {
  return `${containerID}/${ifName}`;
}

/**
 * Takes a pod port out of service: the representor down first (no traffic towards a port
 * OVS no longer knows), then off its bridge. Already gone is done (false). A DPDK port
 * (`type` "dpdk") is no kernel link: removing it from OVS stops its PMD, and a kernel
 * representor of the same name (bifurcated PMD) is not ours to take down.
 */
export async function takeDownPort(
  d: { ip: Ip; vswitch: Pick<Vswitch, 'detachPort'> },
  port: string,
  type = '',
): Promise<boolean> {
  if (type !== 'dpdk') {
    await d.ip.run(null, ['link', 'set', 'dev', port, 'down'], { okExitCodes: [1, 255] });
  }
  return d.vswitch.detachPort(port);
}
