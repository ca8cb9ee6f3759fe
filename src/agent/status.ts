import { z } from 'zod';

/**
 * The node status document (`GET /api/v1/state` on the CNI socket, `/status` on the metrics
 * listener). One schema for both sides: the agent builds an `AgentStatus`, and
 * `ovs-offload status` parses what it receives with the same schema, so the two cannot drift.
 * Unknown keys are dropped when parsing: a newer agent may add fields an older CLI ignores.
 */
const PfVfSchema = z.object({
  vfIndex: z.number(),
  pci: z.string(),
  driver: z.string().nullable(),
  representor: z.string().nullable(),
});

const PfSchema = z.object({
  pci: z.string(),
  netdev: z.string().nullable(),
  /** `switchdev`, `legacy`, or `dpdk` (a PF on vfio-pci: docs/nic.md). */
  eswitchMode: z.string().nullable(),
  numVfs: z.number().nullable(),
  vfs: z.array(PfVfSchema),
});

const NicPolicySchema = z.object({
  policy: z.string(),
  pci: z.string().nullable(),
  plan: z.array(z.string()),
  ok: z.boolean(),
  strategy: z.string().nullable(),
  warnings: z.array(z.string()),
  errors: z.array(z.string()),
  uplinkBridge: z
    .object({
      bridge: z.string(),
      port: z.string().nullable(),
      ok: z.boolean(),
      error: z.string().optional(),
    })
    .nullable(),
});

const PoolSchema = z.object({
  resourceName: z.string(),
  socket: z.string(),
  registration: z.string().nullable(),
  registered: z.boolean(),
  restarts: z.number(),
  total: z.number(),
  allocated: z.number(),
  unhealthy: z.number(),
});

const OffloadSchema = z.object({
  verdict: z.string(),
  offloadedFlows: z.number(),
  /** `offloaded:partial` (DPDK: the NIC matches and marks, the actions run in the PMD). */
  partialFlows: z.number().default(0),
  softwareFlows: z.number(),
  reasons: z.array(z.string()),
  /** The first evidence of each reason that has one (a flow ufid, a log line): short. */
  evidence: z.array(z.object({ code: z.string(), text: z.string() })).default([]),
});

const AttachmentSchema = z.object({
  containerID: z.string(),
  ifName: z.string(),
  pod: z.string(),
  mode: z.enum(['offload', 'legacy']),
  vf: z.string(),
  representor: z.string().nullable(),
  bridge: z.string().nullable(),
  ifaceId: z.string().nullable(),
  netns: z.string(),
  addCompleted: z.boolean(),
  /** An undo that failed and is being retried in the background (start-up reconcile). */
  pendingUndo: z.object({ attempts: z.number(), lastError: z.string() }).nullable(),
  offload: OffloadSchema.nullable(),
});

export const AgentStatusSchema = z.object({
  node: z.string(),
  ovsdb: z.object({ endpoint: z.string(), connected: z.boolean() }),
  bridge: z.string(),
  pfs: z.array(PfSchema),
  nicPolicies: z.array(NicPolicySchema),
  devicePlugin: z.array(PoolSchema).nullable(),
  attachments: z.array(AttachmentSchema),
});

export type AgentStatus = z.infer<typeof AgentStatusSchema>;
export type AttachmentStatus = z.infer<typeof AttachmentSchema>;
