import { errorMessage, InvalidInputError } from '../sys/errors.js';
import { HelpRequested, UsageError } from './usage.js';

/**
 * `ovs-offload <command>`: each command lives in its own module, loaded only when asked for
 * so `ovs-offload flows` does not pay for the gRPC stack.
 */
type Command = { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> };

const COMMANDS: Record<string, Command> = {
  agent: {
    summary: 'run the node agent (CNI server, NIC policy, device plugin) from a config file',
    load: () => import('./commands/agent.js'),
  },
  'device-plugin': {
    summary: 'run only the kubelet device plugin (SR-IOV VF pools) from an agent config file',
    load: () => import('./commands/device-plugin.js'),
  },
  demo: {
    summary: 'run the embedded sandbox end to end (real OVS + OVN, emulated switchdev NIC)',
    load: () => import('./commands/demo.js'),
  },
  flows: {
    summary: 'parse ovs-appctl dpctl/dump-flows output (table, or --json)',
    load: () => import('./commands/flows.js'),
  },
  'offload-check': {
    summary: 'tell per pod port whether OVS flows are offloaded to the NIC, and why not',
    load: () => import('./commands/offload-check.js'),
  },
  nics: {
    summary:
      'list SR-IOV PFs/VFs, eswitch modes and representors; `nics apply` brings PFs to policy',
    load: () => import('./commands/nics.js'),
  },
  status: {
    summary: "ask the running agent for the node's PFs, pools and attachments",
    load: () => import('./commands/status.js'),
  },
  version: { summary: 'print the version', load: () => import('./commands/version.js') },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'usage: ovs-offload <command> [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(width)}  ${c.summary}`),
    '',
    'Run `ovs-offload <command> --help` for its options.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(help() + '\n');
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`ovs-offload: unknown command ${JSON.stringify(name)}\n${help()}\n`);
    return 2;
  }
  try {
    return await (await cmd.load()).run(rest);
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(err.usage + '\n');
      return 0;
    }
    const usage = err instanceof UsageError || err instanceof InvalidInputError;
    process.stderr.write(`ovs-offload ${name}: ${errorMessage(err)}\n`);
    return usage ? 2 : ((err as { exitCode?: number }).exitCode ?? 2);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`ovs-offload: ${errorMessage(err)}\n`);
    process.exitCode = 2;
  },
);
