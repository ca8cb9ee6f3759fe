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
 * Takes a pod port out of service: the representor down first (no traffic towards a port
 * OVS no longer knows), then off its bridge. Already gone is done (false).
 */
export async function takeDownPort(
  d: { ip: Ip; vswitch: Pick<Vswitch, 'detachPort'> },
  port: string,
): Promise<boolean> {
  await d.ip.run(null, ['link', 'set', 'dev', port, 'down'], { okExitCodes: [1, 255] });
  return d.vswitch.detachPort(port);
}
