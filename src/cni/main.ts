import { callAgent } from './client.js';
import { readCniEnv, type CniEnv } from './env.js';
import { CniCode, CniError } from './errors.js';
import { parseNetConf } from './netconf.js';
import type { AgentRequest, CniOp } from './types.js';
import { assertCommandAllowed, isSupported, LATEST, SUPPORTED_VERSIONS } from './version.js';

/**
 * `ovs-offload-cni`: the CNI protocol edge. Reads CNI_* and the NetConf, validates them,
 * forwards the request to the agent, prints the result (or the error JSON) on stdout —
 * nothing else ever goes to stdout.
 */

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function decode(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new CniError(
      CniCode.DecodeFailure,
      `decode network config: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new CniError(CniCode.DecodeFailure, 'decode network config: not a JSON object');
  }
  return v as Record<string, unknown>;
}

/** The cniVersion errors are reported in: the config's, once we have read it. */
let reportVersion: string = LATEST;

async function run(env: NodeJS.ProcessEnv): Promise<unknown> {
  const stdin =
    env.CNI_COMMAND === 'VERSION' ? await readStdin().catch(() => '') : await readStdin();
  if (env.CNI_COMMAND === 'VERSION') {
    // The runtime may send {"cniVersion": …}; the answer echoes it when we support it.
    const asked = stdin.trim() ? decode(stdin).cniVersion : undefined;
    return {
      cniVersion: isSupported(asked) ? asked : LATEST,
      supportedVersions: SUPPORTED_VERSIONS,
    };
  }
  const raw = decode(stdin);
  if (typeof raw.cniVersion === 'string') reportVersion = raw.cniVersion;
  if (raw.cniVersion === undefined)
    throw new CniError(CniCode.InvalidConfig, 'invalid network config: cniVersion: required');
  if (!isSupported(raw.cniVersion)) {
    throw new CniError(
      CniCode.IncompatibleVersion,
      `incompatible CNI version ${JSON.stringify(raw.cniVersion)}`,
      `supported: ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  }
  const e: CniEnv = readCniEnv(env);
  assertCommandAllowed(e.command, raw.cniVersion);
  const conf = parseNetConf(raw);
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
  const result = await callAgent(conf.server_socket, e.command.toLowerCase() as CniOp, body);
  // Only ADD prints a result; DEL, CHECK, GC and STATUS succeed silently.
  return e.command === 'ADD' ? result : null;
}

/** The exit code of the answer being written: 0, or 1 once it is an error JSON. */
let exitCode = 0;

// A runtime that stops reading (it gave up waiting, or a shell's `| head -c0`) makes the write
// fail with EPIPE. Nobody is left to read the answer: leave with the code it carried, quietly —
// unhandled, the 'error' event would end the process with a stack trace on stderr. Any other
// failure to write means the answer did not get out, which is never a success.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  process.exit(err.code === 'EPIPE' ? exitCode : exitCode || 1);
});
// Nothing of ours goes to stderr; a closed one must not end the process either.
process.stderr.on('error', () => {});

run(process.env).then(
  (out) => {
    if (out !== null && out !== undefined) process.stdout.write(JSON.stringify(out) + '\n');
  },
  (err: unknown) => {
    const e =
      err instanceof CniError
        ? err
        : new CniError(CniCode.IoFailure, err instanceof Error ? err.message : String(err));
    exitCode = 1;
    process.exitCode = 1;
    process.stdout.write(JSON.stringify(e.toJSON(reportVersion)) + '\n');
  },
);
