import { Ip, type CommandRunner } from '../../sys/index.js';
import { CallLog } from './calls.js';
import { IDENTITIES, type NicIdentity } from './identity.js';
import { listLinks, type LinkTable } from './links.js';
import type { Fault, NicDaemonConfig, VfKnobs } from './protocol.js';
import { SysTree } from './tree.js';

export interface VfRec {
  index: number;
  pci: string;
  iommuGroup: number;
  driver: string | null;
  /** ifindex of the VF's partner end (representor or eswitch-internal end) in the host netns. */
  peerIfindex: number;
  knobs: VfKnobs;
  uverbs: number | null;
}

export interface PfRec {
  index: number;
  pci: string;
  uplink: string;
  wire: string;
  bridge: string;
  totalVfs: number;
  numa: number;
  mode: 'legacy' | 'switchdev';
  vfs: VfRec[];
  /** Last sriov_numvfs value acted on (the file is compared against it). */
  numVfs: number;
  /** hw-tc-offload per netdev ifindex (uplink and representors). */
  tcOffload: Map<number, boolean>;
}

export const DEFAULT_KNOBS: VfKnobs = {
  mac: '00:00:00:00:00:00',
  vlan: 0,
  qos: 0,
  proto: '802.1Q',
  spoofchk: true,
  trust: false,
  linkState: 'auto',
  minTxRate: 0,
  maxTxRate: 0,
};

/**
 * What the emulated NIC is: its config and identity, the sysfs tree, the PFs with their VFs,
 * the call log and the armed faults. The operations (vfs.ts, drivers.ts, eswitch.ts, …) are
 * functions of it, and run one at a time in the emulator's serial queue.
 */
export class NicState {
  readonly identity: NicIdentity;
  readonly tree: SysTree;
  readonly ip: Ip;
  /** The sandbox host netns: uplinks, representors, and VFs bound to a network driver. */
  readonly host: { name: string };
  /** Where unbound VF netdevs hide (an unbound VF has no netdev at all). */
  readonly limbo: { name: string };
  readonly pfs: PfRec[] = [];
  readonly calls: CallLog;
  fault: Fault = {};
  nextIommuGroup = 40;
  nextUverbs = 0;

  constructor(
    readonly cfg: NicDaemonConfig,
    readonly runner: CommandRunner,
  ) {
    this.identity = IDENTITIES[cfg.identity];
    this.tree = new SysTree(cfg.sysfsRoot, cfg.liveSys);
    this.ip = new Ip(runner, cfg.realIp);
    this.host = { name: cfg.hostNetns };
    this.limbo = { name: cfg.limboNetns };
    this.calls = new CallLog(cfg.dir);
  }

  hostLinks(): Promise<LinkTable> {
    return listLinks(this.ip, this.host);
  }

  async hostIp(args: readonly string[]) {
    return this.ip.run(this.host, args);
  }

  findVf(pci: string): { pf: PfRec; vf: VfRec } | undefined {
    for (const pf of this.pfs) {
      const vf = pf.vfs.find((v) => v.pci === pci);
      if (vf) return { pf, vf };
    }
    return undefined;
  }
}
