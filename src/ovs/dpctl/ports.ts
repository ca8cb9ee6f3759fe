import type { DpFlow } from './types.js';

/** Ports a flow sends to directly: its top-level `output` actions (bare port tokens). */
export function outputPorts(flow: DpFlow): string[] {
  const out: string[] = [];
  for (const a of flow.actions) if (a.name === 'output' && a.args !== null) out.push(a.args);
  return out;
}

/** The §3.3 `--port NAME` rule: the flow comes in on NAME or outputs to NAME. */
export function flowTouchesPort(flow: DpFlow, port: string): boolean {
  if (flow.inPort === port) return true;
  for (const a of flow.actions) if (a.name === 'output' && a.args === port) return true;
  return false;
}

/**
 * A datapath port number when the dump printed numbers (no `-m`/`--names`), else null:
 * callers then map names through OVSDB instead of `ofport`/`odp port` numbers.
 */
export function portNumber(port: string | null): number | null {
  if (port === null || !/^\d{1,10}$/.test(port)) return null;
  const n = Number(port);
  return n <= 0xffffffff ? n : null;
}
