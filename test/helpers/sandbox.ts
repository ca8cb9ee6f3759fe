import { afterAll, expect } from 'vitest';
import {
  emulateNic,
  Sandbox,
  startOvn,
  startOvs,
  type EmulateNicOptions,
  type EmulatedNic,
  type OvnInstance,
  type OvnOptions,
  type OvsInstance,
} from '../../src/sandbox/index.js';

/**
 * Thin test wrappers over src/sandbox: every sandbox made here is destroyed after the file's
 * tests (even failed ones), and the file fails if anything was left behind.
 */
const live: Sandbox[] = [];

afterAll(async () => {
  const problems: string[] = [];
  while (live.length > 0) {
    const sb = live.pop();
    if (sb) problems.push(...(await sb.destroy()));
  }
  expect(problems, 'sandbox leftovers').toEqual([]);
});

export async function newSandbox(): Promise<Sandbox> {
  const sb = await Sandbox.create();
  live.push(sb);
  return sb;
}

export interface Node {
  sb: Sandbox;
  ovs: OvsInstance;
  ovn?: OvnInstance;
  nic: EmulatedNic;
}

/** A sandbox with OVS (and optionally OVN) and an emulated NIC: one emulated Kubernetes node. */
export async function newNode(
  opts: { ovn?: boolean | OvnOptions; nic?: EmulateNicOptions; bridge?: string } = {},
): Promise<Node> {
  const sb = await newSandbox();
  const ovs = await startOvs(sb);
  const ovn = opts.ovn
    ? await startOvn(sb, ovs, typeof opts.ovn === 'object' ? opts.ovn : {})
    : undefined;
  if (opts.bridge !== undefined || !opts.ovn) await ovs.addBridge(opts.bridge ?? 'br-int');
  const nic = await emulateNic(sb, opts.nic);
  return { sb, ovs, ...(ovn ? { ovn } : {}), nic };
}

/** Polls until fn returns a truthy value (emulated kernel events land asynchronously). */
export async function eventually<T>(
  fn: () => Promise<T>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<T> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() - start > timeoutMs)
      throw new Error(`${what} not met in ${timeoutMs} ms (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** An OVSDB row's external_ids as a plain object (ovs-vsctl --format=json). */
export async function externalIds(
  ovs: OvsInstance,
  table: string,
  record: string,
): Promise<Record<string, string>> {
  const r = await ovs.vsctl(['--format=json', '--columns=external_ids', 'list', table, record]);
  const parsed = JSON.parse(r.stdout) as { data: [['map', [string, string][]]][] };
  return Object.fromEntries(parsed.data[0]?.[0]?.[1] ?? []);
}
