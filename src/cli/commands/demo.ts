import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { files, packageRoot } from '../../sys/index.js';

/**
 * The demo and the NIC emulator it drives are dist/sandbox.js, a bundle of their own: the
 * node image ships dist/cli.js without them, so an agent can never start the emulator.
 */
export const DEMO_BUNDLE = path.join('dist', 'sandbox.js');

type DemoEntry = { run(argv: string[]): Promise<number> };

function isDemoEntry(m: unknown): m is DemoEntry {
  return typeof m === 'object' && m !== null && typeof (m as { run?: unknown }).run === 'function';
}

export async function run(argv: string[]): Promise<number> {
  const entry = path.join(packageRoot(), DEMO_BUNDLE);
  if (!(await files.exists(entry))) {
    throw new Error(
      `the demo is not part of this installation (${entry} is absent; the node image ships ` +
        'without the NIC emulator): run it from a source checkout with `npm run demo`',
    );
  }
  const mod: unknown = await import(pathToFileURL(entry).href);
  if (!isDemoEntry(mod)) throw new Error(`${entry} does not export run(argv)`);
  return mod.run(argv);
}
