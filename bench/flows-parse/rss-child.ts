import { run } from '../../src/cli/commands/flows.js';

/**
 * `ovs-offload flows - --json` in a process of its own, fed by the benchmark through stdin,
 * so its peak RSS is the parser's and the CLI's alone. Prints the peak as the last line of
 * stderr.
 */
const code = await run(process.argv.slice(2));
process.stderr.write(`${JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS, code })}\n`);
process.exitCode = code;
