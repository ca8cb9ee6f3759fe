import * as path from 'node:path';
import type { CommandRunner, RunOptions, RunResult } from './command.js';
import { InvalidInputError } from './errors.js';
import { assertAbsolutePath } from './validate.js';

/**
 * A network namespace as `ip` and `nsenter` know it. We never switch namespaces inside the
 * Node process (setns would move every thread's sockets); commands run inside instead.
 *  - `null`: the namespace this process runs in ("home" for the agent);
 *  - `{ name }`: a named netns under /run/netns (`ip -n NAME`);
 *  - `{ path }`: any netns file (CNI_NETNS, /proc/PID/ns/net), entered with nsenter.
 */
export type Netns = null | { readonly name: string } | { readonly path: string };

const NETNS_DIRS = ['/var/run/netns/', '/run/netns/'];

/** CNI_NETNS paths under /run/netns are named namespaces: use the cheaper `ip -n`. */
export function netnsFromPath(p: string): Exclude<Netns, null> {
  assertAbsolutePath(p, 'netns');
  for (const dir of NETNS_DIRS) {
    if (p.startsWith(dir) && !p.slice(dir.length).includes('/'))
      return { name: p.slice(dir.length) };
  }
  return { path: p };
}

/** The argument `ip link set DEV netns X` takes: a name or an absolute path (iproute2 ≥ 4.x). */
export function netnsTarget(ns: Exclude<Netns, null>): string {
  return 'name' in ns ? ns.name : ns.path;
}

export function netnsPath(ns: Exclude<Netns, null>): string {
  return 'name' in ns ? path.join('/var/run/netns', ns.name) : ns.path;
}

export function describeNetns(ns: Netns): string {
  if (ns === null) return 'host netns';
  return 'name' in ns ? `netns ${ns.name}` : `netns ${ns.path}`;
}

/** Arguments that could break an `ip -batch` line (it splits on whitespace, `#` starts a comment). */
function checkBatchArg(a: string): void {
  if (a === '' || /[\s#"'\\]/.test(a)) {
    throw new InvalidInputError('ip argument', `${JSON.stringify(a)} cannot go into an ip batch`);
  }
}

/** `ip` (iproute2) in a namespace, as argv. */
export class Ip {
  constructor(
    private readonly runner: CommandRunner,
    private readonly ipBin = 'ip',
    private readonly nsenterBin = 'nsenter',
  ) {}

  argv(ns: Netns, args: readonly string[]): string[] {
    if (ns === null) return [this.ipBin, ...args];
    if ('name' in ns) return [this.ipBin, '-n', ns.name, ...args];
    return [this.nsenterBin, `--net=${ns.path}`, this.ipBin, ...args];
  }

  /** Any other command inside `ns` (a named netns is entered through its /run/netns file). */
  wrap(ns: Exclude<Netns, null>, argv: readonly string[]): string[] {
    return [this.nsenterBin, `--net=${netnsPath(ns)}`, ...argv];
  }

  run(ns: Netns, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    return this.runner.run(this.argv(ns, args), opts);
  }

  /** `ip -j ...` parsed as JSON (callers validate the shape with zod). */
  async json(ns: Netns, args: readonly string[], opts?: RunOptions): Promise<unknown> {
    const r = await this.run(ns, ['-j', ...args], opts);
    const text = r.stdout.trim();
    return text === '' ? [] : (JSON.parse(text) as unknown);
  }

  /**
   * Several `ip` commands in one process (`ip -batch -`): one fork instead of N on the CNI
   * hot path. `-force` is not used, so the batch stops at the first failing line and the
   * error names it.
   */
  async batch(
    ns: Netns,
    lines: readonly (readonly string[])[],
    opts?: RunOptions,
  ): Promise<RunResult> {
    for (const l of lines) l.forEach(checkBatchArg);
    const input = lines.map((l) => l.join(' ')).join('\n') + '\n';
    return this.run(ns, ['-batch', '-'], { ...opts, input });
  }
}
