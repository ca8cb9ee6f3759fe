import { z } from 'zod';
import { InvalidInputError } from '../sys/index.js';
import { parsePortTable } from './dpif-show.js';
import type { PortEntry } from './types.js';

/**
 * The `offload-check --ports FILE` format (docs/offload.md): which port of a captured dump
 * is which pod. Either JSON
 *
 *     {"ports":[{"port":"5b45c61b307e_h","ofport":5,"odp":5,"pod":"default/nginx"}]}
 *
 * or the text of `ovs-appctl dpif/show` (or `dpctl/show`) taken on the same node, which maps
 * the datapath numbers of a dump without `-m`.
 */

const POD_RE = /^[^/\s]+\/[^/\s]+$/;
const port = z.number().int().min(0).max(0xffffffff);

const EntrySchema = z.strictObject({
  port: z.string().min(1).regex(/^\S+$/, 'must be a port name without spaces'),
  ofport: port.nullable().optional(),
  odp: port.nullable().optional(),
  pod: z.string().regex(POD_RE, 'must be namespace/name').nullable().optional(),
  bridge: z.string().min(1).nullable().optional(),
  type: z.string().nullable().optional(),
  /** `netdev@ovs-netdev` / `system@ovs-system`, as dpif/show names the datapath. */
  datapath: z.string().min(1).nullable().optional(),
  /** A DPDK port's `options:dpdk-devargs` (which PF/VF its PMD opened). */
  dpdkDevargs: z.string().min(1).nullable().optional(),
  /** The Interface `error` column as ovs-vswitchd wrote it. */
  error: z.string().min(1).nullable().optional(),
});

const FileSchema = z.strictObject({ ports: z.array(EntrySchema) });

function issueText(err: z.ZodError): string {
  return err.issues
    .map((i) => {
      const at = i.path.length > 0 ? i.path.join('.') : '(top)';
      const keys = i.code === 'unrecognized_keys' ? `: ${i.keys.join(', ')}` : '';
      return `${at}: ${i.message}${keys}`;
    })
    .join('; ');
}

export function parsePortsFile(text: string, name = 'ports file'): PortEntry[] {
  const trimmed = text.trimStart();
  if (!trimmed.startsWith('{')) {
    const rows = parsePortTable(text);
    if (rows.length === 0) {
      throw new InvalidInputError(
        name,
        'neither JSON ({"ports":[…]}) nor `ovs-appctl dpif/show` / `dpctl/show` output',
      );
    }
    return rows;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(trimmed);
  } catch (err) {
    throw new InvalidInputError(name, `not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const r = FileSchema.safeParse(raw);
  if (!r.success) throw new InvalidInputError(name, issueText(r.error), { cause: r.error });
  const seen = new Set<string>();
  return r.data.ports.map((p, i) => {
    if (seen.has(p.port)) {
      throw new InvalidInputError(name, `ports.${i}.port: ${p.port} is listed twice`);
    }
    seen.add(p.port);
    return {
      name: p.port,
      ofport: p.ofport ?? null,
      odp: p.odp ?? null,
      bridge: p.bridge ?? null,
      pod: p.pod ?? null,
      type: p.type ?? null,
      datapath: p.datapath ?? null,
      error: p.error ?? null,
      ...(p.dpdkDevargs ? { dpdkDevargs: p.dpdkDevargs } : {}),
    };
  });
}
