import { CniCode, CniError } from './errors.js';
import { CNI_NAME_RE, ifNameProblem, quote } from './names.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION';
export const COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'];

/** The CNI_* variables as the process received them (absent ones undefined). */
export type CniEnvVars = Readonly<Record<string, string | undefined>>;

export interface CniEnv {
  command: CniCommand;
  containerID: string;
  netns: string;
  ifName: string;
  args: Record<string, string>;
  path: string;
}

/**
 * The CNI_ARGS keys this plugin knows: the Kubernetes identity runtimes pass, `IP` (the
 * convention for asking IPAM for an address; the agent hands CNI_ARGS to the IPAM plugin) and
 * IgnoreUnknown. Any other key is an error unless IgnoreUnknown is true, as libcni's LoadArgs
 * has it.
 */
export const KNOWN_ARGS: readonly string[] = [
  'IgnoreUnknown',
  'K8S_POD_NAME',
  'K8S_POD_NAMESPACE',
  'K8S_POD_UID',
  'K8S_POD_INFRA_CONTAINER_ID',
  'IP',
];

const isCommand = (c: string): c is CniCommand => (COMMANDS as readonly string[]).includes(c);

const bad = (msg: string) => new CniError(CniCode.InvalidEnvironment, msg);

/**
 * CNI_ARGS: "K=V;K=V" (values may contain '='; empty pairs are ignored). The object has no
 * prototype, so a key such as `__proto__` is kept as the key it is.
 */
export function parseCniArgs(raw: string | undefined): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  if (!raw) return out;
  for (const pair of raw.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw bad(`CNI_ARGS: invalid pair ${quote(pair)}`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/**
 * libcni's rules for parsed CNI_ARGS: IgnoreUnknown is a boolean ("1"/"true" or "0"/"false",
 * any case) and, unless it is true, every key must be one this plugin knows.
 */
export function checkCniArgs(args: Record<string, string>): void {
  let ignoreUnknown = false;
  if (Object.hasOwn(args, 'IgnoreUnknown')) {
    const v = args.IgnoreUnknown!.toLowerCase();
    if (v === '1' || v === 'true') ignoreUnknown = true;
    else if (v !== '0' && v !== 'false')
      throw bad(
        `CNI_ARGS: IgnoreUnknown: ${quote(args.IgnoreUnknown!)} is not 1, true, 0 or false`,
      );
  }
  if (ignoreUnknown) return;
  const unknown = Object.keys(args).filter((k) => !KNOWN_ARGS.includes(k));
  if (unknown.length > 0) {
    throw new CniError(
      CniCode.InvalidEnvironment,
      `CNI_ARGS: unknown args ${unknown.map((k) => quote(k, 40)).join(', ')}`,
      `known: ${KNOWN_ARGS.join(', ')}; IgnoreUnknown=1 lets others through`,
    );
  }
}

/**
 * Reads and checks the CNI_* variables each command needs (CNI spec "Parameters"; the same
 * variables libcni's skel requires). Every problem is code 4.
 */
export function readCniEnv(env: CniEnvVars): CniEnv {
  const command = env.CNI_COMMAND ?? '';
  if (command === '') throw bad('CNI_COMMAND is required');
  if (!isCommand(command)) throw bad(`CNI_COMMAND: unknown command ${quote(command)}`);
  const out: CniEnv = {
    command,
    containerID: '',
    netns: '',
    ifName: '',
    args: {},
    path: env.CNI_PATH ?? '',
  };
  const required =
    command === 'ADD' || command === 'CHECK'
      ? ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH']
      : command === 'DEL'
        ? ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH']
        : command === 'GC'
          ? ['CNI_PATH']
          : [];
  const missing = required.filter((k) => (env[k] ?? '') === '');
  if (missing.length === 1) throw bad(`${missing[0]!} is required`);
  if (missing.length > 1) throw bad(`${missing.join(', ')} are required`);
  if (command === 'VERSION' || command === 'STATUS' || command === 'GC') return out;

  out.containerID = env.CNI_CONTAINERID!;
  if (!CNI_NAME_RE.test(out.containerID)) {
    throw bad(
      `CNI_CONTAINERID: ${quote(out.containerID)} is not a container ID (letters, digits, '_', '.' and '-', starting with a letter or digit)`,
    );
  }
  out.ifName = env.CNI_IFNAME!;
  const ifProblem = ifNameProblem(out.ifName);
  if (ifProblem !== null)
    throw bad(`CNI_IFNAME: ${quote(out.ifName)} is not a valid interface name: it ${ifProblem}`);
  // DEL may come after the netns is gone (CNI_NETNS empty); ADD and CHECK need one.
  out.netns = env.CNI_NETNS ?? '';
  if (out.netns !== '' && !out.netns.startsWith('/'))
    throw bad(`CNI_NETNS: ${quote(out.netns)} is not an absolute path`);
  out.args = parseCniArgs(env.CNI_ARGS);
  checkCniArgs(out.args);
  // DEL and CHECK find an attachment by container ID and ifName, whatever identity came.
  if (command === 'ADD') podIdentityOf(out.args);
  return out;
}

/** The Kubernetes pod a request is for, from CNI_ARGS as kubelet's runtimes send it. */
export interface PodIdentity {
  name: string;
  namespace: string;
  uid?: string;
}

/** CNI_ARGS keys that only make sense as part of a Kubernetes pod identity. */
export const POD_IDENTITY_ARGS: readonly string[] = [
  'K8S_POD_NAME',
  'K8S_POD_NAMESPACE',
  'K8S_POD_UID',
  'K8S_POD_INFRA_CONTAINER_ID',
];

/**
 * The pod identity in CNI_ARGS, or null when the runtime sent none (a libcni client outside
 * Kubernetes, such as `ctr run --cni`, sends no CNI_ARGS at all). Half an identity is refused
 * (code 4): a name without its namespace (or the reverse, or only a UID) names no pod, and
 * guessing one would bind the port to another pod's OVN identity.
 */
export function podIdentityOf(args: Readonly<Record<string, string>>): PodIdentity | null {
  const has = (k: string) => Object.hasOwn(args, k);
  if (!POD_IDENTITY_ARGS.some(has)) return null;
  for (const k of POD_IDENTITY_ARGS) {
    if (has(k) && args[k] === '') throw bad(`CNI_ARGS: ${k} is empty`);
  }
  const missing = ['K8S_POD_NAME', 'K8S_POD_NAMESPACE'].filter((k) => !has(k));
  if (missing.length > 0) {
    const given = POD_IDENTITY_ARGS.filter(has).join(', ');
    throw bad(
      `CNI_ARGS: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} required with ${given} (a pod identity names both the pod and its namespace)`,
    );
  }
  const uid = args.K8S_POD_UID;
  return {
    name: args.K8S_POD_NAME!,
    namespace: args.K8S_POD_NAMESPACE!,
    ...(uid !== undefined ? { uid } : {}),
  };
}
