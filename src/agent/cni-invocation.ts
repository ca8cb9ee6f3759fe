import { DecodeError } from './errors.js';

/** A plugin invocation as the compiled front end carries it to POST /api/v1/cni. */
export interface Invocation {
  /** The plugin's CNI_* environment variables. */
  env: Record<string, string>;
  /** The plugin's stdin, byte for byte. */
  stdin: Uint8Array;
}

/**
 * `NAME=VALUE\0` for each variable, an empty entry, then stdin (src/cni/native). Only CNI_*
 * names are taken: nothing else in the plugin's environment is the agent's business. Values
 * are UTF-8 with invalid bytes replaced, and of a name given twice the first counts, as
 * Node's process.env (and getenv) read them. The body's size is bounded by the server.
 */
export function splitInvocation(body: Uint8Array): Invocation {
  const env = Object.create(null) as Record<string, string>;
  const text = new TextDecoder('utf-8');
  let pos = 0;
  for (;;) {
    const nul = body.indexOf(0, pos);
    if (nul < 0) throw new DecodeError('decode request: environment not terminated');
    const entry = text.decode(body.subarray(pos, nul));
    pos = nul + 1;
    if (entry === '') break;
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new DecodeError('decode request: environment entry without a name');
    const name = entry.slice(0, eq);
    if (!name.startsWith('CNI_'))
      throw new DecodeError(
        `decode request: ${JSON.stringify(name.slice(0, 40))} is not a CNI_* variable`,
      );
    if (!Object.hasOwn(env, name)) env[name] = entry.slice(eq + 1);
  }
  return { env, stdin: body.subarray(pos) };
}
