import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { z } from 'zod';
import { errorMessage, files, type Logger } from '../sys/index.js';

/**
 * One file per attachment, `<stateDir>/<containerID>-<ifName>.json`, written before the first
 * host mutation and removed last: DEL needs no memory, and an agent that dies mid-ADD finds
 * at start exactly what it must undo. Container IDs may be longer than a file name can be
 * (NAME_MAX 255): such attachments are stored as `h-<sha256 of containerID/ifName>.json`, the
 * full IDs inside.
 */
export const AttachmentStateSchema = z.object({
  version: z.literal(1),
  containerID: z.string(),
  ifName: z.string(),
  /** The network name (NetConf "name"), for GC. */
  network: z.string(),
  netns: z.string(),
  mode: z.enum(['offload', 'legacy']),
  pod: z.object({ name: z.string(), namespace: z.string(), uid: z.string().optional() }),
  vf: z.object({
    pci: z.string(),
    pfPci: z.string(),
    pfNetdev: z.string().nullable(),
    vfIndex: z.number().int(),
    /** Name on the host before ADD (restored on DEL); null for a VF without netdev (vfio). */
    originalName: z.string().nullable(),
    originalMac: z.string().nullable(),
    originalMtu: z.number().int().nullable(),
    driver: z.string().nullable(),
    /**
     * Offload mode: the VF's administrative MAC (vfinfo_list through the PF) before ADD set
     * one; restored on DEL. Absent: ADD set none (or the state predates this field).
     */
    adminMacBefore: z.string().optional(),
  }),
  /** The representor's MTU before ADD set its mtu_request; restored on DEL. */
  representorMtuBefore: z.number().int().optional(),
  representor: z.string().nullable(),
  /**
   * Set when the representor joined OVS as a DPDK port (type=dpdk, this devargs) rather than
   * as a kernel netdev: its take-down goes through OVS alone, never `ip link`.
   */
  dpdkDevargs: z.string().optional(),
  bridge: z.string().nullable(),
  ifaceId: z.string().nullable(),
  /**
   * Where the representor's rate limits come from (attach/bandwidth.ts): the Kube-OVN
   * provider whose annotations the pod watch re-applies, and runtimeConfig.bandwidth as ADD
   * received it. Absent: offload mode never got that far (or the state predates it).
   */
  bandwidth: z
    .object({
      provider: z.string().nullable(),
      runtime: z
        .object({
          ingressRate: z.number().optional(),
          ingressBurst: z.number().optional(),
          egressRate: z.number().optional(),
          egressBurst: z.number().optional(),
        })
        .nullable(),
    })
    .optional(),
  /** Legacy VF knobs as they were before ADD, restored on DEL. */
  knobsBefore: z
    .object({
      mac: z.string().optional(),
      vlan: z.number().int().optional(),
      qos: z.number().int().optional(),
      proto: z.enum(['802.1Q', '802.1ad']).optional(),
      spoofchk: z.enum(['on', 'off']).optional(),
      trust: z.enum(['on', 'off']).optional(),
      linkState: z.enum(['auto', 'enable', 'disable']).optional(),
      minTxRate: z.number().int().optional(),
      maxTxRate: z.number().int().optional(),
    })
    .nullable(),
  /** IPAM section and the raw CNI_ARGS to run its DEL with. */
  ipam: z
    .object({ config: z.record(z.string(), z.unknown()), cniArgs: z.string(), path: z.string() })
    .nullable(),
  addCompleted: z.boolean(),
  createdAt: z.string(),
  result: z.record(z.string(), z.unknown()).nullable(),
});
export type AttachmentState = z.infer<typeof AttachmentStateSchema>;

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** Leaves room below NAME_MAX (255) for the `.tmp-<pid>-<rand>` suffix of an atomic write. */
const MAX_PLAIN_NAME = 200;

export class StateStore {
  constructor(
    readonly dir: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Creates the directory and removes temporary files a crash left mid-rename (the state
   * they were about to replace is still there, or was never needed).
   */
  async init(): Promise<void> {
    await files.mkdir(this.dir, 0o700);
    for (const name of await files.readdirOrEmpty(this.dir)) {
      if (!/\.json\.tmp-/.test(name)) continue;
      await files.rm(path.join(this.dir, name));
      this.logger.info({ file: name }, 'removed a temporary state file left by a crash');
    }
  }

  /** The file name; containerID and ifName are validated so they cannot climb out of dir. */
  file(containerID: string, ifName: string): string {
    if (!SAFE_ID.test(containerID)) {
      throw new Error(
        `containerID ${JSON.stringify(containerID.slice(0, 80))} is not a valid container id`,
      );
    }
    if (!/^[^/:\s]{1,15}$/.test(ifName) || ifName === '.' || ifName === '..')
      throw new Error(`ifName ${JSON.stringify(ifName)} is not valid`);
    const plain = `${containerID}-${ifName}.json`;
    if (Buffer.byteLength(plain) <= MAX_PLAIN_NAME) return path.join(this.dir, plain);
    const h = createHash('sha256').update(`${containerID}/${ifName}`).digest('hex');
    return path.join(this.dir, `h-${h}.json`);
  }

  /**
   * Atomic (write + rename) but not fsync'd: the record must survive an agent crash, which
   * the page cache does; a node crash reboots the node, and with it every pod and VF this
   * record could describe. Skipping fsync keeps two disk flushes off every pod start.
   */
  async write(s: AttachmentState): Promise<void> {
    await files.writeAtomic(
      this.file(s.containerID, s.ifName),
      JSON.stringify(s, null, 2) + '\n',
      0o600,
      false,
    );
  }

  async read(containerID: string, ifName: string): Promise<AttachmentState | null> {
    const text = await files.readTextOrNull(this.file(containerID, ifName));
    if (text === null) return null;
    const s = AttachmentStateSchema.parse(JSON.parse(text));
    // A hashed name is trusted only with the IDs inside matching.
    return s.containerID === containerID && s.ifName === ifName ? s : null;
  }

  async remove(containerID: string, ifName: string): Promise<void> {
    await files.rm(this.file(containerID, ifName));
  }

  /** Every readable state file; unreadable ones are logged and skipped (never deleted blindly). */
  async list(): Promise<AttachmentState[]> {
    const out: AttachmentState[] = [];
    for (const name of await files.readdirOrEmpty(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const p = path.join(this.dir, name);
      try {
        out.push(AttachmentStateSchema.parse(JSON.parse(await files.readText(p))));
      } catch (err) {
        this.logger.warn(
          { file: p, err: errorMessage(err) },
          'unreadable attachment state file skipped',
        );
      }
    }
    return out;
  }
}
