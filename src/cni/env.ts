import { CniCode, CniError } from './errors.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION';
const COMMANDS: readonly string[] = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'];

export interface CniEnv {
  command: CniCommand;
  containerID: string;
  netns: string;
  ifName: string;
  args: Record<string, string>;
  path: string;
}

const IFNAME_RE = /^[^/:\s]{1,15}$/;

/** CNI_ARGS: "K=V;K=V" (values may contain '='; empty pairs are ignored). */
export function parseCniArgs(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const pair of raw.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0)
      throw new CniError(
        CniCode.InvalidEnvironment,
        `CNI_ARGS: invalid pair ${JSON.stringify(pair)}`,
      );
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

function need(env: NodeJS.ProcessEnv, key: string): string {
  const v = env[key];
  if (v === undefined || v === '')
    throw new CniError(CniCode.InvalidEnvironment, `${key} is required`);
  return v;
}

/** Reads and checks the CNI_* variables each command needs (CNI spec "Parameters"). */
export function readCniEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = env.CNI_COMMAND ?? '';
  if (!COMMANDS.includes(command)) {
    throw new CniError(
      CniCode.InvalidEnvironment,
      `CNI_COMMAND: unknown command ${JSON.stringify(command)}`,
    );
  }
  const cmd = command as CniCommand;
  const out: CniEnv = {
    command: cmd,
    containerID: '',
    netns: '',
    ifName: '',
    args: {},
    path: env.CNI_PATH ?? '',
  };
  if (cmd === 'VERSION' || cmd === 'STATUS') return out;
  if (cmd === 'GC') {
    out.path = need(env, 'CNI_PATH');
    return out;
  }
  out.containerID = need(env, 'CNI_CONTAINERID');
  out.ifName = need(env, 'CNI_IFNAME');
  if (!IFNAME_RE.test(out.ifName)) {
    throw new CniError(
      CniCode.InvalidEnvironment,
      `CNI_IFNAME: ${JSON.stringify(out.ifName)} is not a valid interface name`,
    );
  }
  out.path = need(env, 'CNI_PATH');
  // DEL may come after the netns is gone (CNI_NETNS empty); ADD and CHECK need one.
  out.netns = cmd === 'DEL' ? (env.CNI_NETNS ?? '') : need(env, 'CNI_NETNS');
  if (out.netns !== '' && !out.netns.startsWith('/')) {
    throw new CniError(
      CniCode.InvalidEnvironment,
      `CNI_NETNS: ${JSON.stringify(out.netns)} is not an absolute path`,
    );
  }
  out.args = parseCniArgs(env.CNI_ARGS);
  if (cmd === 'ADD') {
    for (const k of ['K8S_POD_NAME', 'K8S_POD_NAMESPACE']) {
      if (!out.args[k])
        throw new CniError(CniCode.InvalidEnvironment, `CNI_ARGS: ${k} is required`);
    }
  }
  return out;
}
