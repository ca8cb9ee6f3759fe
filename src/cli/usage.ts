import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bad command line: exit 2 with a one-line reason. */
export class UsageError extends Error {
  override name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs with errors turned into UsageError and `--help` handled. */
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
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(usage + '\n');
    process.exit(0);
  }
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
