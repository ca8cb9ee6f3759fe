import { parseDumpText, type DpFlow } from '../../../src/ovs/dpctl/index.js';

/** Synthetic dump-flows lines in the `-m` layout OVS prints, for verdict cases. */
export interface FlowSpec {
  in: string;
  out?: string[];
  packets?: number | string;
  bytes?: number | string;
  dp?: 'tc' | 'ovs' | 'dpdk' | null;
  offloaded?: 'yes' | 'partial' | null;
  actions?: string;
}

export function flowLine(s: FlowSpec): string {
  const fields = [
    `packets:${s.packets ?? 10}`,
    `bytes:${s.bytes ?? 1000}`,
    'used:0.500s',
    ...(s.offloaded ? [`offloaded:${s.offloaded}`] : []),
    ...(s.dp ? [`dp:${s.dp}`] : []),
    `actions:${s.actions ?? (s.out ?? ['drop']).join(',')}`,
  ];
  return `recirc_id(0),in_port(${s.in}),eth_type(0x0800),ipv4(frag=no), ${fields.join(', ')}`;
}

export function flows(...specs: FlowSpec[]): DpFlow[] {
  const d = parseDumpText(specs.map(flowLine).join('\n') + '\n');
  if (d.errors.length > 0) throw new Error(`bad synthetic flow: ${d.errors[0]?.message}`);
  return d.flows;
}
