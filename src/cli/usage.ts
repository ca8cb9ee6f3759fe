import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bad command line: exit 2 with a one-line reason. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * `--help` was asked for: not a failure. The CLI's main prints `usage` on stdout and exits 0;
 * thrown so that a command stops before doing anything, wherever it parses its arguments.
 */
export class HelpRequested extends Error {
  override name = 'HelpRequested';

  constructor(readonly usage: string) {
    super('help requested');
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs with errors turned into UsageError and `--help` into HelpRequested. */
export function parse<O extends Options>(
  argv: string[],
  options: O,
  usage: string,
  allowPositionals = true,
) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n${usage}`);
  }
  if ((parsed.values as { help?: boolean }).help) throw new HelpRequested(usage);
  return parsed as unknown as {
    values: {
      [K in keyof O]?: O[K]['type'] extends 'boolean'
        ? boolean
        : O[K] extends { multiple: true }
          ? string[]
          : string;
    };
    positionals: string[];
  };
}
