/**
 * external_ids key (Port and Interface) naming the attachment a pod port was made for,
 * `<containerID>/<ifName>`: DEL without a state file, GC and teardown find exactly their
 * own port by it. It sits beside the Kube-OVN keys and our owner key (DESIGN §3.7).
 */
export const ATTACHMENT_KEY = 'ovs-offload-attachment';
