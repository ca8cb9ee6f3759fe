// the parts of src/sys it needs, not its index: the parser loads no logger or runner
import type { CommandRunner } from '../../sys/command.js';
import { CommandError } from '../../sys/errors.js';
import { DumpParser, type DumpOptions, type DumpSink } from './stream.js';
import type { FlowSummary } from './types.js';

export interface DumpFlowsOptions extends DumpOptions {
  /** `ovs-appctl -t`: the ovs-vswitchd control socket (default: ovs-appctl's own). */
  target?: string;
  /** `type=` filter; `all` shows offloaded and software flows alike. */
  type?: 'all' | 'ovs' | 'offloaded' | 'non-offloaded' | 'tc' | 'dpdk' | 'partially-offloaded';
  /** `-m` (default true): only then does OVS print `offloaded:`, `dp:` and the ufid. */
  verbose?: boolean;
  env?: Record<string, string | undefined>;
  /** Dumps of a busy node take seconds; the caller bounds them (default 60 s). */
  signal?: AbortSignal;
}

export function dumpFlowsArgv(opts: DumpFlowsOptions = {}): string[] {
  return [
    'ovs-appctl',
    ...(opts.target === undefined ? [] : ['-t', opts.target]),
    'dpctl/dump-flows',
    ...(opts.verbose === false ? [] : ['-m']),
    `type=${opts.type ?? 'all'}`,
  ];
}

/**
 * Runs `ovs-appctl dpctl/dump-flows` and parses its output as it streams, so a dump of a
 * million flows never sits in memory: each flow goes to the sink, the summary comes back.
 */
export async function dumpFlows(
  runner: CommandRunner,
  sink: DumpSink,
  opts: DumpFlowsOptions = {},
): Promise<FlowSummary> {
  const argv = dumpFlowsArgv(opts);
  const parser = new DumpParser(sink, opts.port === undefined ? {} : { port: opts.port });
  const child = runner.stream(argv, (line) => parser.pushLine(line), {
    signal: opts.signal ?? AbortSignal.timeout(60_000),
    ...(opts.env === undefined ? {} : { env: opts.env }),
  });
  const code = await child.exited;
  if (code !== 0) throw new CommandError(argv, code, '');
  return parser.end();
}
