import { z } from 'zod';
import type { IdentityName } from './identity.js';

/** Config the sandbox hands the NIC daemon (written to <dir>/nic/config.json). */
export interface NicDaemonConfig {
  id: string;
  dir: string;
  sysfsRoot: string;
  liveSys: string;
  hostNetns: string;
  limboNetns: string;
  realIp: string;
  realEthtool: string | null;
  identity: IdentityName;
  eswitchMode: 'legacy' | 'switchdev';
  /** 0xBB00: the PCI bus (routing ID high byte) of PF0. */
  bus: number;
  pfs: { numVfs: number; totalVfs: number; numa: number }[];
  /** Bind VFs to their driver when created (sriov_drivers_autoprobe). */
  autoprobe: boolean;
  switchId: string;
}

/** Ways to make the emulated devices misbehave like known firmware/driver bugs. */
export const FaultSchema = z
  .object({
    /** Refuse `devlink dev eswitch set … mode <mode>` in a state. */
    refuseMode: z
      .object({
        mode: z.enum(['switchdev', 'legacy']),
        when: z.enum(['always', 'vfsExist', 'vfsBound', 'noVfs']),
        message: z.string().optional(),
        /** Refuse only this many times, then behave (undefined: forever). */
        times: z.number().int().positive().optional(),
      })
      .optional(),
    /** Netdevs whose `ethtool -K … hw-tc-offload on` is refused ("*" = all). */
    refuseHwTcOffload: z.array(z.string()).optional(),
    /** devlink prints this instead of its output (garbage tests). */
    devlinkGarbage: z.string().optional(),
  })
  .strict();
export type Fault = z.infer<typeof FaultSchema>;

/** One link of a real `ip link show` as the ip stand-in read it (JSON, or a text header). */
export const ShownLinkSchema = z.object({
  ifindex: z.number().int(),
  ifname: z.string(),
  /** Peer name, same netns (`"link"`; text `name@peer`). */
  link: z.string().nullable().optional(),
  /** Peer ifindex in another netns (`"link_index"`; text `name@ifN`). */
  link_index: z.number().int().optional(),
});
export type ShownLink = z.infer<typeof ShownLinkSchema>;

export const RequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('ping') }),
  z.object({ op: z.literal('sync') }),
  z.object({ op: z.literal('state') }),
  z.object({ op: z.literal('calls') }),
  z.object({ op: z.literal('clearCalls') }),
  z.object({ op: z.literal('fault'), fault: FaultSchema }),
  z.object({ op: z.literal('destroyPodNetns'), netns: z.string() }),
  z.object({ op: z.literal('devlink'), argv: z.array(z.string()) }),
  z.object({ op: z.literal('ip'), argv: z.array(z.string()) }),
  z.object({ op: z.literal('ethtool'), argv: z.array(z.string()) }),
  z.object({ op: z.literal('vfinfo'), pf: z.string() }),
  /**
   * What the kernel adds to `ip link show` for the NIC's netdevs in the netns listed (its
   * nsfs `dev:ino`, null when unknown): vfinfo of a PF; with details, the PCI parent.
   */
  z.object({
    op: z.literal('showLinks'),
    netnsId: z.string().nullable(),
    details: z.boolean(),
    links: z.array(ShownLinkSchema),
  }),
  z.object({ op: z.literal('shutdown') }),
]);
export type Request = z.infer<typeof RequestSchema>;

/**
 * Per ifindex, what the NIC adds to a link of `ip link show`: `parentbus`/`parentdev`
 * (IFLA_PARENT_DEV_BUS_NAME/NAME, printed with -d) and a PF's VF list.
 */
export interface LinkExtras {
  parentbus?: 'pci';
  parentdev?: string;
  vfinfo?: { json: Record<string, unknown>[]; text: string[] };
}
export type ShowLinksReply = Record<string, LinkExtras>;

/** What a stand-in prints and exits with. */
export interface ToolResult {
  stdout: string;
  stderr: string;
  code: number;
  /** For ip: run the real ip with the same argv instead (passthrough). */
  passthrough?: boolean;
}

/** One line of the call log: every stand-in invocation and every sysfs write acted on. */
export interface CallRecord {
  ts: number;
  tool: 'devlink' | 'ip' | 'ethtool' | 'sysfs';
  argv: string[];
  code: number;
  note?: string;
}

export interface VfKnobs {
  mac: string;
  vlan: number;
  qos: number;
  proto: '802.1Q' | '802.1ad';
  spoofchk: boolean;
  trust: boolean;
  linkState: 'auto' | 'enable' | 'disable';
  minTxRate: number;
  maxTxRate: number;
}

export interface VfView {
  index: number;
  pci: string;
  driver: string | null;
  /** Its netdev name in the host netns, null when in a pod, unbound or bound to vfio-pci. */
  netdev: string | null;
  /** Representor netdev name (switchdev), null in legacy. */
  representor: string | null;
  knobs: VfKnobs;
}

export interface PfView {
  index: number;
  pci: string;
  netdev: string;
  wire: string;
  mode: 'legacy' | 'switchdev';
  numVfs: number;
  totalVfs: number;
  vfs: VfView[];
}

export interface NicStateView {
  identity: IdentityName;
  pfs: PfView[];
}
