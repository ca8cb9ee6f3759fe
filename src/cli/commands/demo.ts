import { runSelfDemo } from '../../sandbox/selfdemo.js';
import { parse } from '../usage.js';

const USAGE = 'usage: ovs-offload demo [--keep]';

export async function run(argv: string[]): Promise<number> {
  parse(argv, { keep: { type: 'boolean' } }, USAGE, false);
  const t0 = Date.now();
  await runSelfDemo((s) => {
    const dt = ((Date.now() - t0) / 1000).toFixed(1).padStart(5);
    process.stdout.write(`[${dt}s] ${s.what}${s.detail ? `: ${s.detail}` : ''}\n`);
  });
  return 0;
}
