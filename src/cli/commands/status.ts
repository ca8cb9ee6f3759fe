import { AgentStatusSchema } from '../../agent/status.js';
import { getAgentState } from '../../cni/client.js';
import { table } from '../table.js';
import { parse } from '../usage.js';

const USAGE = `usage: ovs-offload status [--socket PATH] [--json]

  Asks the running agent (GET /api/v1/state on its CNI socket, default
  /run/ovs-offload/cni.sock) and prints the node: OVSDB, PFs and their policy, device plugin
  pools, attachments.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    { socket: { type: 'string' }, json: { type: 'boolean' } },
    USAGE,
    false,
  );
  const raw = await getAgentState(values.socket ?? '/run/ovs-offload/cni.sock');
  if (values.json) {
    process.stdout.write(JSON.stringify(raw, null, 2) + '\n');
    return 0;
  }
  const s = AgentStatusSchema.parse(raw);
  const out: string[] = [];
  out.push(
    `node ${s.node}   OVSDB ${s.ovsdb.endpoint} ${s.ovsdb.connected ? 'connected' : 'NOT CONNECTED'}   bridge ${s.bridge}`,
    '',
  );
  out.push(
    table([
      ['PF', 'netdev', 'eswitch', 'VFs'],
      ...s.pfs.map((p) => [p.pci, p.netdev, p.eswitchMode, p.numVfs]),
    ]),
    '',
  );
  for (const p of s.nicPolicies ?? []) {
    for (const w of p.warnings) out.push(`warning ${p.pci ?? p.policy}: ${w}`);
    for (const e of p.errors) out.push(`error   ${p.pci ?? p.policy}: ${e}`);
  }
  if (s.devicePlugin && s.devicePlugin.length > 0) {
    out.push(
      table([
        ['pool', 'registered', 'total', 'allocated', 'unhealthy'],
        ...s.devicePlugin.map((p) => [
          p.resourceName,
          p.registered ? 'yes' : 'no',
          p.total,
          p.allocated,
          p.unhealthy,
        ]),
      ]),
      '',
    );
  }
  out.push(
    s.attachments.length === 0
      ? 'no attachments'
      : table([
          ['pod', 'if', 'mode', 'VF', 'representor', 'iface-id', 'offload'],
          ...s.attachments.map((a) => [
            a.pod,
            a.ifName,
            a.mode,
            a.vf,
            a.representor,
            a.ifaceId,
            a.offload?.verdict,
          ]),
        ]),
  );
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
