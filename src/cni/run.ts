import { callAgent } from './client.js';
import { podIdentityOf, readCniEnv, type CniEnvVars } from './env.js';
import { CniCode, CniError } from './errors.js';
import { parseNetConf } from './netconf.js';
import type { AgentRequest, CniOp, CniResult } from './types.js';
import { assertCommandAllowed, isSupported, LATEST, SUPPORTED_VERSIONS } from './version.js';

export type { CniEnvVars } from './env.js';

/** What a run needs from outside: the agent. */
export interface CniDeps {
  callAgent(socketPath: string, op: CniOp, body: AgentRequest): Promise<CniResult | null>;
}

export const defaultDeps: CniDeps = { callAgent: (s, op, body) => callAgent(s, op, body) };

/** What the process prints on stdout (the result, an error JSON, or nothing) and exits with. */
export interface CniOutcome {
  stdout: string;
  code: number;
}

/**
 * Deeper configs are refused as undecodable: nothing real nests past a handful of levels, and
 * the request body must still serialize (JSON.stringify recurses) here and in the agent.
 */
export const MAX_NESTING = 256;

/** Levels of arrays and objects in a parsed JSON value (a scalar is 0), without recursion. */
function nesting(v: unknown): number {
  let max = 0;
  const todo: [unknown, number][] = [[v, 0]];
  for (let item = todo.pop(); item !== undefined; item = todo.pop()) {
    const [x, d] = item;
    if (typeof x !== 'object' || x === null) continue;
    if (d + 1 > max) max = d + 1;
    if (max > MAX_NESTING) return max;
    for (const k of Array.isArray(x) ? (x as unknown[]) : Object.values(x)) todo.push([k, d + 1]);
  }
  return max;
}

type Decoded = { ok: true; conf: Record<string, unknown> } | { ok: false; error: CniError };

/** stdin as a JSON object, or the code-6 error saying why it is not one. */
function decode(text: string): Decoded {
  const fail = (why: string): Decoded => ({
    ok: false,
    error: new CniError(CniCode.DecodeFailure, `decode network config: ${why}`),
  });
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail('not a JSON object');
  if (nesting(v) > MAX_NESTING) return fail(`nested deeper than ${MAX_NESTING} levels`);
  return { ok: true, conf: v as Record<string, unknown> };
}

/**
 * One invocation of the plugin: CNI_* and stdin in; what goes to stdout and the exit code out.
 * It never throws: every failure is a CNI error JSON and exit code 1. The checks, in order
 * (docs/cni.md "Errors"):
 *   CNI_COMMAND (4) → VERSION answers → the CNI_* variables the command needs (4) → stdin is a
 *   JSON object (6) → cniVersion present and a string (7), supported (1), not older than the
 *   command (1) → the NetConf (7) → a pod identity when ADD's `provider` needs one (4) → the
 *   agent's answer (11/50 when it cannot be reached).
 */
export async function runCni(
  env: CniEnvVars,
  stdin: string | Uint8Array,
  deps: CniDeps = defaultDeps,
): Promise<CniOutcome> {
  // Invalid UTF-8 becomes U+FFFD (as Go's encoding/json has it); a BOM stays, and is not JSON.
  const text =
    typeof stdin === 'string' ? stdin : new TextDecoder('utf-8', { ignoreBOM: true }).decode(stdin);
  const decoded = decode(text);
  // Answers speak the config's version when it is one we speak, else the newest.
  const asked = decoded.ok ? decoded.conf.cniVersion : undefined;
  const version: string = isSupported(asked) ? asked : LATEST;
  try {
    const out = await dispatch(env, decoded, version, deps);
    return { stdout: out === null ? '' : JSON.stringify(out) + '\n', code: 0 };
  } catch (err) {
    const e =
      err instanceof CniError
        ? err
        : new CniError(
            CniCode.Internal,
            `internal error: ${err instanceof Error ? err.message : String(err)}`,
          );
    return { stdout: JSON.stringify(e.toJSON(version)) + '\n', code: 1 };
  }
}

async function dispatch(
  env: CniEnvVars,
  decoded: Decoded,
  version: string,
  deps: CniDeps,
): Promise<unknown> {
  const e = readCniEnv(env);
  // VERSION needs nothing from stdin (libcni's skel does not even read it); it echoes the
  // version asked for when it is one we speak.
  if (e.command === 'VERSION')
    return { cniVersion: version, supportedVersions: SUPPORTED_VERSIONS };
  if (!decoded.ok) throw decoded.error;
  const raw = decoded.conf;
  if (raw.cniVersion === undefined)
    throw new CniError(CniCode.InvalidConfig, 'invalid network config: cniVersion: required');
  if (typeof raw.cniVersion !== 'string')
    throw new CniError(
      CniCode.InvalidConfig,
      'invalid network config: cniVersion: must be a string',
    );
  if (!isSupported(raw.cniVersion)) {
    throw new CniError(
      CniCode.IncompatibleVersion,
      `incompatible CNI version ${JSON.stringify(raw.cniVersion.slice(0, 40))}`,
      `supported: ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  }
  assertCommandAllowed(e.command, raw.cniVersion);
  const conf = parseNetConf(raw);
  if (e.command === 'ADD' && conf.provider !== undefined && podIdentityOf(e.args) === null) {
    // Kube-OVN's addresses, MAC and iface-id are the pod's annotations: no pod, no port.
    throw new CniError(
      CniCode.InvalidEnvironment,
      `CNI_ARGS: K8S_POD_NAME and K8S_POD_NAMESPACE are required: provider ${JSON.stringify(conf.provider)} serves Kubernetes pods`,
      'outside Kubernetes (no pod identity), use a config without "provider"',
    );
  }
  if (e.command === 'CHECK' && conf.prevResult === undefined) {
    throw new CniError(
      CniCode.InvalidConfig,
      'invalid network config: prevResult: required for CHECK',
    );
  }
  const body: AgentRequest = {
    containerID: e.containerID,
    netns: e.netns,
    ifName: e.ifName,
    args: e.args,
    path: e.path,
    config: raw,
  };
  const op = e.command.toLowerCase() as CniOp;
  let result: CniResult | null;
  try {
    result = await deps.callAgent(conf.server_socket, op, body);
  } catch (err) {
    if (err instanceof CniError) throw err;
    // Whatever broke on the way to the agent, the request did not get through: the runtime
    // may retry (STATUS: not available).
    throw new CniError(
      op === 'status' ? CniCode.NotAvailable : CniCode.TryAgainLater,
      `ovs-offload agent at ${conf.server_socket}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  // Only ADD prints a result; DEL, CHECK, GC and STATUS succeed silently.
  return e.command === 'ADD' ? (result ?? null) : null;
}
