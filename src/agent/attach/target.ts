import {
  CommandError,
  errorMessage,
  netnsFromPath,
  probeNetns,
  protectedNetnsIds,
  type Ip,
} from '../../sys/index.js';
import { RequestEnvError } from '../errors.js';
import { listLinks, type PodLink } from '../podnet.js';

/**
 * Check before mutate, for the pod side of ADD: the target netns exists, is a network
 * namespace, is not one the node itself lives in, and does not have `ifName` yet. Runs
 * before the state file is written; every failure is a RequestEnvError (code 4) and nothing
 * has changed.
 */
export async function checkPodTarget(ip: Ip, netns: string, ifName: string): Promise<PodLink[]> {
  let probe: Awaited<ReturnType<typeof probeNetns>>;
  try {
    probe = await probeNetns(netns);
  } catch (err) {
    // EACCES/ELOOP/…: a path even root may not open (another container's pid 1) is no pod's.
    throw new RequestEnvError('CNI_NETNS', `${netns} cannot be inspected: ${errorMessage(err)}`);
  }
  if (probe.kind === 'missing') throw new RequestEnvError('CNI_NETNS', `${netns} does not exist`);
  if (probe.kind === 'not-nsfs') {
    throw new RequestEnvError('CNI_NETNS', `${netns} is not a namespace file (not on nsfs)`);
  }
  // The agent's own netns holds the uplink and representors; pid 1's is the node's. A VF
  // "moved" there would be renamed and addressed among the node's own interfaces.
  if ((await protectedNetnsIds()).has(probe.id)) {
    throw new RequestEnvError('CNI_NETNS', `${netns} is the node's own network namespace`);
  }
  let links: PodLink[];
  try {
    links = await listLinks(ip, netnsFromPath(netns), false);
  } catch (err) {
    // setns(CLONE_NEWNET) on a mount, pid, uts… namespace file answers EINVAL.
    if (err instanceof CommandError && /Invalid argument/.test(err.stderr)) {
      throw new RequestEnvError('CNI_NETNS', `${netns} is not a network namespace`);
    }
    throw err;
  }
  // CNI spec (ADD): "If an interface of the same name exists in the container, the plugin
  // MUST return an error."
  if (links.some((l) => l.ifname === ifName)) {
    throw new RequestEnvError('CNI_IFNAME', `${ifName} already exists in ${netns}`);
  }
  return links;
}
