import * as path from 'node:path';
import {
  checkLive,
  judgePorts,
  parsePortsFile,
  renderReport,
  tallyFlows,
} from '../../offload/index.js';
import { parseDump } from '../../ovs/dpctl/index.js';
import { OvsdbClient } from '../../ovs/ovsdb/index.js';
import { Vswitch } from '../../ovs/vswitch.js';
import { buildDemoNode, removeLeftovers, teardownDemoNode } from '../../sandbox/index.js';
import { ExecaRunner, files, InvalidInputError, packageRoot, SysFs } from '../../sys/index.js';
import { table } from '../table.js';
import { HelpRequested, parse } from '../usage.js';
import { run as status } from '../commands/status.js';

const USAGE = `usage: ovs-offload demo [--keep] [--datapath netdev|netdev-dpdk]
       ovs-offload demo --cleanup DIR

  Builds one emulated node (real OVS + OVN, emulated switchdev NIC), starts the agent, attaches
  two pods through the real CNI executable, pings between them, prints the node status, the OVS
  ports and the offload report, then removes everything. --keep leaves it running and prints
  how to explore and how to clean up (--cleanup DIR). --datapath netdev-dpdk runs Debian's
  DPDK build of ovs-vswitchd (openvswitch-switch-dpdk; 256 2 MB hugepages) and attaches the
  pods through DPDK representor ports.`;

/** offload-check --dump on a captured real-NIC dump, for the "what it looks like" part. */
async function readDumpReport(dumpFile: string, portsFile: string) {
  const tally = await tallyFlows(parseDump(files.readChunks(dumpFile)));
  const ports = parsePortsFile(await files.readText(portsFile), portsFile);
  return judgePorts(tally, ports, { ovs: null, nic: null }, { source: 'dump' });
}

/**
 * Entry of dist/sandbox.js: the demo with the NIC emulator, bundled apart from dist/cli.js so
 * the node image (which ships dist/cli.js only) carries no emulator. `ovs-offload demo` loads it.
 */
export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parse(
      argv,
      { keep: { type: 'boolean' }, cleanup: { type: 'string' }, datapath: { type: 'string' } },
      USAGE,
      false,
    ));
  } catch (err) {
    // This bundle has its own copy of HelpRequested: dist/cli.js would not recognise it.
    if (!(err instanceof HelpRequested)) throw err;
    process.stdout.write(err.usage + '\n');
    return 0;
  }
  if (values.cleanup !== undefined) {
    const dir = path.resolve(values.cleanup);
    const id = /\/oo-([a-z0-9]{4})-[^/]+$/.exec(dir)?.[1];
    if (!id)
      throw new InvalidInputError('--cleanup', `${dir} is not a demo sandbox dir (/tmp/oo-<id>-…)`);
    const gone = await removeLeftovers(new ExecaRunner(), id, dir);
    process.stdout.write(
      gone.length ? gone.map((g) => `removed ${g}`).join('\n') + '\n' : 'nothing left\n',
    );
    return 0;
  }
  const keep = values.keep ?? false;
  const datapath = values.datapath ?? 'netdev';
  if (datapath !== 'netdev' && datapath !== 'netdev-dpdk')
    throw new InvalidInputError('--datapath', `${datapath} is not netdev or netdev-dpdk`);
  const t0 = Date.now();
  const say = (what: string, detail?: string) => {
    const dt = ((Date.now() - t0) / 1000).toFixed(1).padStart(5);
    process.stdout.write(`[${dt}s] ${what}${detail ? `\n         ${detail}` : ''}\n`);
  };
  const node = await buildDemoNode(say, { keep, datapath });
  try {
    const [a, b] = node.pods;
    if (!a || !b) throw new Error('demo pods missing');
    const ping = await node.sb.execInPod(a.pod, [
      'ping',
      '-c',
      '3',
      '-i',
      '0.2',
      '-W',
      '2',
      b.address,
    ]);
    say(
      `ping ${a.pod.name} → ${b.pod.name} (${b.address}) through br-int and OVN`,
      ping.stdout
        .split('\n')
        .find((l) => l.includes('transmitted'))
        ?.trim(),
    );

    process.stdout.write('\n== node status (ovs-offload status)\n');
    await status(['--socket', node.agent.socket]);

    process.stdout.write('\n== OVS ports on br-int\n');
    const ifaces = await node.ovs.vsctl([
      '--format=json',
      '--columns=name,external_ids',
      'find',
      'Interface',
      'external_ids:vendor=ovs-offload',
    ]);
    const rows = (
      JSON.parse(ifaces.stdout) as { data: [string, ['map', [string, string][]]][] }
    ).data.map(([name, [, kv]]) => {
      const ids = Object.fromEntries(kv);
      return [
        name,
        ids['iface-id'],
        ids.pod_namespace && ids.pod_name ? `${ids.pod_namespace}/${ids.pod_name}` : null,
        ids['ovn-installed'] ?? 'no',
      ];
    });
    process.stdout.write(table([['port', 'iface-id', 'pod', 'ovn-installed'], ...rows]) + '\n');

    process.stdout.write('\n== offload report (ovs-offload offload-check, live)\n');
    const client = await OvsdbClient.connect(node.ovs.dbTarget);
    try {
      const report = await checkLive({
        runner: new ExecaRunner(node.ovs.env),
        vswitch: new Vswitch(client, { owner: 'demo-reader' }),
        ovsTarget: node.ovs.vswitchdCtl,
        nicCtx: {
          sysfs: new SysFs(node.nic.sysfsRoot),
          runner: new ExecaRunner({ PATH: node.nic.path }),
        },
      });
      process.stdout.write(renderReport(report) + '\n');
    } finally {
      await client.close();
    }
    process.stdout.write(
      [
        '',
        'This node is emulated: its "NIC" is veth pairs and OVS runs the userspace datapath',
        '(dp:ovs), so every flow is switched in software and the verdict says so. On a real',
        'switchdev NIC with other_config:hw-offload=true the same check reads, for example on',
        'a Corigine/Kube-OVN capture (docs/examples/kubeovn-corigine.dump.txt):',
        '',
      ].join('\n'),
    );
    const real = await readDumpReport(
      path.join(packageRoot(), 'docs/examples/kubeovn-corigine.dump.txt'),
      path.join(packageRoot(), 'docs/examples/kubeovn-corigine.ports.json'),
    );
    process.stdout.write(renderReport(real) + '\n\n');
  } finally {
    if (keep) {
      const bin = path.join(packageRoot(), 'bin', 'ovs-offload');
      process.stdout.write(
        [
          '== kept running. Explore:',
          `  ip netns exec ${node.pods[0]?.pod.netns ?? '?'} ping ${node.pods[1]?.address ?? '?'}`,
          `  ${bin} status --socket ${node.agent.socket}`,
          `  OVS_RUNDIR=${node.ovs.dir} ovs-vsctl --db=${node.ovs.dbTarget} show`,
          `  OVS_RUNDIR=${node.ovs.dir} ovs-appctl dpctl/dump-flows -m`,
          `  ${bin} nics --sysfs-root ${node.nic.sysfsRoot}`,
          `  curl ${node.metricsUrl}/metrics`,
          `  agent log: ${node.agent.logFile}`,
          'Clean up:',
          `  ${bin} demo --cleanup ${node.sb.dir}`,
          ...(node.ovs.hugepagesRaisedFrom !== null
            ? [`  echo ${node.ovs.hugepagesRaisedFrom} > /proc/sys/vm/nr_hugepages`]
            : []),
          '',
        ].join('\n'),
      );
    } else {
      const problems = await teardownDemoNode(node);
      say(
        'teardown: pods deleted through CNI, agent stopped, sandbox removed',
        problems.length ? problems.join('; ') : 'nothing left behind',
      );
    }
  }
  return 0;
}
