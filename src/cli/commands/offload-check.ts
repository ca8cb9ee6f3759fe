import {
  checkLive,
  exitCodeOf,
  judgePorts,
  parsePortsFile,
  readVswitchdLog,
  renderExplain,
  renderReport,
  tallyFlows,
  type OffloadReport,
  type PortEntry,
  type Selection,
  UfidWatch,
  ufidsOf,
} from '../../offload/index.js';
import { isFlowLineError, parseDump } from '../../ovs/dpctl/index.js';
import { OvsdbClient } from '../../ovs/ovsdb/index.js';
import { Vswitch } from '../../ovs/vswitch.js';
import {
  assertAbsolutePath,
  errorMessage,
  ExecaRunner,
  files,
  ovsVswitchdLogPath,
  SysFs,
} from '../../sys/index.js';
import { addTcDir, keepTcRefs } from '../../offload/node-views.js';
import type { TcFlowRef } from '../../offload/tc-filters.js';
import { parse, UsageError } from '../usage.js';

const USAGE = `usage: ovs-offload offload-check [--port REP | --pod NS/NAME] [--json | --explain]
                                 [--db SOCK] [--ovs-target CTL] [--sysfs-root DIR]
       ovs-offload offload-check --dump FILE|- [--ports FILE] [--port NAME | --pod NS/NAME]
                                 [--tc-dir DIR] [--json | --explain]

Whether each OVS port's datapath flows are switched in the NIC, and why not (docs/offload.md).
Live, it runs \`ovs-appctl dpctl/dump-flows -m type=all\` and reads OVSDB and the NIC; by
default it checks every pod port (external_ids pod_namespace/pod_name) and VF representor on OVS.
  --port REP        only this port (in a dump also a datapath port number)
  --pod NS/NAME     only this pod's ports
  --json            the JSON report of docs/offload.md
  --explain         with --port or --pod: the evidence chain (config, flows and their ct
                    leg, TC view, ovs-vswitchd.log lines, verdict and fixes)
  --db SOCK         OVSDB endpoint (default unix:/var/run/openvswitch/db.sock; a path, unix: or tcp:)
  --ovs-target CTL  ovs-appctl -t target (default: the running ovs-vswitchd)
  --sysfs-root DIR  the folder that contains sys/ (default /)
  --dump FILE       check a captured dump-flows output instead (- reads stdin)
  --ports FILE      with --dump: which port is which pod / datapath number
  --vswitchd-log FILE  ovs-vswitchd's log, for the flows it refused to offload (its last
                    4 MiB; live default $OVS_LOGDIR/ovs-vswitchd.log, else
                    /var/log/openvswitch/ovs-vswitchd.log; with --dump only when given)
                    (JSON {"ports":[…]}, or \`ovs-appctl dpif/show\` output)
  --tc-dir DIR      with --dump: TC's view, DIR/<port>.json = captured
                    \`tc -s -j filter show dev <port> ingress\` (live runs tc itself)
Exit 0 when every port checked is offloaded, 1 when not, 2 on usage or I/O errors.`;

const DEFAULT_DB = 'unix:/var/run/openvswitch/db.sock';
const HINT = 'see ovs-offload offload-check --help';
const LIVE_ONLY = ['db', 'ovs-target', 'sysfs-root'] as const;

const OPTIONS = {
  port: { type: 'string' },
  pod: { type: 'string' },
  json: { type: 'boolean' },
  explain: { type: 'boolean' },
  db: { type: 'string' },
  'ovs-target': { type: 'string' },
  'sysfs-root': { type: 'string' },
  dump: { type: 'string' },
  ports: { type: 'string' },
  'vswitchd-log': { type: 'string' },
  'tc-dir': { type: 'string' },
} as const;

type Values = ReturnType<typeof parseOneLine>['values'];

/** Scripts read the reason from stderr: one line, the full usage stays behind --help. */
function parseOneLine(argv: string[]) {
  try {
    return parse(argv, OPTIONS, USAGE, false);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    throw new UsageError(`${err.message.split('\n')[0] ?? 'bad arguments'} (${HINT})`);
  }
}

function selection(values: Values): Selection {
  if (values.port !== undefined && values.pod !== undefined) {
    throw new UsageError(`--port and --pod exclude each other (${HINT})`);
  }
  if (values.port !== undefined) {
    if (!/^\S+$/.test(values.port)) throw new UsageError(`--port needs a port name (${HINT})`);
    return { port: values.port };
  }
  if (values.pod !== undefined) {
    if (!/^[^/\s]+\/[^/\s]+$/.test(values.pod)) {
      throw new UsageError(
        `--pod needs NAMESPACE/NAME, got ${JSON.stringify(values.pod)} (${HINT})`,
      );
    }
    return { pod: values.pod };
  }
  return {};
}

function checkCombination(values: Values): void {
  if (values.explain === true) {
    if (values.json === true)
      throw new UsageError(`--explain and --json exclude each other (${HINT})`);
    if (values.port === undefined && values.pod === undefined) {
      throw new UsageError(`--explain needs --pod NS/NAME or --port REP (${HINT})`);
    }
  }
  if (values.dump !== undefined) {
    const live = LIVE_ONLY.filter((k) => values[k] !== undefined);
    if (live.length > 0) {
      throw new UsageError(`--${live[0] ?? ''} is for the live check, not --dump (${HINT})`);
    }
    if (values.dump === '') throw new UsageError(`--dump needs a file (${HINT})`);
  } else if (values.ports !== undefined) {
    throw new UsageError(`--ports goes with --dump (live ports come from OVSDB) (${HINT})`);
  } else if (values['tc-dir'] !== undefined) {
    throw new UsageError(`--tc-dir goes with --dump (live runs tc itself) (${HINT})`);
  }
}

function dbEndpoint(db: string | undefined): string {
  if (db === undefined) return DEFAULT_DB;
  return db.startsWith('/') ? `unix:${db}` : db;
}

async function fromDump(values: Values, select: Selection): Promise<OffloadReport> {
  const file = values.dump ?? '-';
  if (file === '-' && process.stdin.isTTY) {
    throw new UsageError(`--dump -: pipe a dump into stdin (${HINT})`);
  }
  const ports: PortEntry[] =
    values.ports === undefined
      ? []
      : parsePortsFile(await files.readText(values.ports), values.ports);
  const source: AsyncIterable<string | Uint8Array> =
    file === '-' ? (process.stdin as AsyncIterable<Buffer>) : files.readChunks(file);
  const logFile = values['vswitchd-log'];
  const scan =
    logFile === undefined ? null : await readVswitchdLog({ path: logFile, required: true }, []);
  const ufids = new UfidWatch(scan ? ufidsOf(scan) : new Set());
  const flows = parseDump(source);
  const watched =
    ufids.wanted.size === 0
      ? flows
      : (async function* () {
          for await (const f of flows) {
            if (!isFlowLineError(f)) ufids.see(f);
            yield f;
          }
        })();
  const tcDir = values['tc-dir'];
  const tcFlows: TcFlowRef[] = [];
  const tally = await tallyFlows(tcDir === undefined ? watched : keepTcRefs(watched, tcFlows));
  const report = judgePorts(
    tally,
    ports,
    { ovs: null, nic: null },
    {
      select,
      source: 'dump',
      ...(scan ? { vswitchdLog: { scan, ufidPorts: ufids.ports } } : {}),
    },
  );
  // Captured `tc -s -j filter show dev PORT ingress` outputs: TC's view offline.
  return tcDir === undefined ? report : addTcDir(tcDir, report, tcFlows);
}

async function live(values: Values, select: Selection): Promise<OffloadReport> {
  // Checked before anything is contacted: a bad path is a usage error, not an OVSDB one.
  const sysfsRoot = assertAbsolutePath(values['sysfs-root'] ?? '/', '--sysfs-root');
  const runner = new ExecaRunner();
  const client = await OvsdbClient.connect(dbEndpoint(values.db), { timeoutMs: 5000 });
  const vswitch = new Vswitch(client, { owner: 'offload-check' });
  try {
    return await checkLive(
      {
        runner,
        vswitch,
        ovsdb: client,
        ...(values['ovs-target'] === undefined ? {} : { ovsTarget: values['ovs-target'] }),
        nicCtx: { sysfs: new SysFs(sysfsRoot), runner },
        vswitchdLog:
          values['vswitchd-log'] === undefined
            ? { path: ovsVswitchdLogPath() }
            : { path: values['vswitchd-log'], required: true },
      },
      select,
    );
  } finally {
    await vswitch.close().catch(() => undefined);
    await client.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOneLine(argv);
  checkCombination(values);
  const select = selection(values);
  let report: OffloadReport;
  try {
    report =
      values.dump !== undefined ? await fromDump(values, select) : await live(values, select);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // I/O and lookup failures are exit 2, whatever exit code a failed command carried.
    process.stderr.write(`ovs-offload offload-check: ${errorMessage(err).split('\n')[0]}\n`);
    return 2;
  }
  process.stdout.write(
    values.json
      ? `${JSON.stringify(report, null, 2)}\n`
      : values.explain
        ? renderExplain(report)
        : renderReport(report),
  );
  return exitCodeOf(report);
}
