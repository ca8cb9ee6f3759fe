import { InterfaceError } from '../../ovs/errors.js';
import type { DpdkState, Vswitch } from '../../ovs/vswitch.js';
import { errorMessage, InvalidInputError, type Logger } from '../../sys/index.js';
import type { AgentConfig } from '../config.js';
import {
  DEFAULT_DPDK_DEVARGS,
  devargsPlaceholders,
  dpdkPortName,
  pciFunction,
  renderDevargs,
  representorIndex,
} from '../dpdk-devargs.js';
import { TransientError } from '../errors.js';
import type { NicCache, ResolvedVf } from '../nic-cache.js';

/**
 * A VF's representor as a port of the pod bridge. On OVS-DPDK (metaScale, YUSUR, BlueField
 * with OVS-DOCA) the representor is not a kernel netdev ovs-vswitchd opens with a socket:
 * the PMD probes it from `options:dpdk-devargs`, and the Interface is `type=dpdk`.
 */
export interface RepresentorPort {
  /** The OVS port/Interface name. */
  name: string;
  /** Present for a DPDK representor port: the rendered `options:dpdk-devargs`. */
  dpdkDevargs?: string;
}

export type RepresentorType = 'netdev' | 'dpdk';

/** Whether an Interface row is a DPDK representor port (for offload verdicts and health). */
export function isDpdkRepresentorPort(i: { type: string }): boolean {
  return i.type === 'dpdk';
}

/**
 * `auto`: DPDK when the pod bridge is on the userspace datapath and ovs-vswitchd has EAL up;
 * a kernel representor on a netdev bridge would be switched in software, never offloaded.
 */
export function decideRepresentorType(
  wanted: 'auto' | 'netdev' | 'dpdk',
  state: DpdkState,
): RepresentorType {
  if (wanted !== 'auto') return wanted;
  return state.datapathType === 'netdev' && state.dpdkInitialized ? 'dpdk' : 'netdev';
}

export interface RepresentorPortDeps {
  config: AgentConfig;
  vswitch: Pick<Vswitch, 'getDpdkState'>;
  nics: Pick<NicCache, 'representor' | 'policyOf' | 'numVfs'>;
  logger: Logger;
}

/**
 * Which port the VF's representor becomes, decided before anything changes: a config that
 * cannot work (dpdk on a kernel-datapath bridge, a template needing a value this VF lacks)
 * is refused (code 7); DPDK not up yet in ovs-vswitchd is transient (code 11).
 */
export async function resolveRepresentorPort(
  d: RepresentorPortDeps,
  vf: ResolvedVf,
  bridge: string,
): Promise<RepresentorPort> {
  const policy = d.nics.policyOf(vf.pfPci);
  const wanted = policy?.representorType ?? 'auto';
  if (wanted === 'netdev') return { name: await d.nics.representor(vf) };
  const state = await d.vswitch.getDpdkState(bridge);
  const type = decideRepresentorType(wanted, state);
  if (type === 'netdev') return { name: await d.nics.representor(vf) };
  if (!state.dpdkInitialized) {
    throw new TransientError(
      `representorType dpdk for PF ${vf.pfPci}: DPDK is not initialised in ovs-vswitchd (Open_vSwitch dpdk_initialized is false; is other_config:dpdk-init=true and are hugepages there?)`,
    );
  }
  if (state.datapathType !== null && state.datapathType !== 'netdev') {
    throw new InvalidInputError(
      'representorType',
      `dpdk needs bridge ${bridge} on the userspace datapath (datapath_type=netdev), it has datapath_type="${state.datapathType}"`,
    );
  }
  const template = policy?.dpdkDevargs ?? DEFAULT_DPDK_DEVARGS;
  const uses = devargsPlaceholders(template);
  // A bifurcated PMD (mlx5, xsc) keeps the kernel representors; a PF bound to vfio-pci has
  // none, and its DPDK port is named the YUSUR way.
  let netdev: string | null = null;
  try {
    netdev = await d.nics.representor(vf);
  } catch (err) {
    d.logger.debug({ vf: vf.pci, err: errorMessage(err) }, 'no kernel representor for this VF');
  }
  let repIndex: number | null = null;
  if (uses.has('repIndex')) repIndex = await readRepIndex(d.nics, vf);
  let devargs: string;
  try {
    devargs = renderDevargs(template, {
      pf: vf.pfPci,
      vf: vf.vfIndex,
      representor: netdev,
      repIndex,
    });
  } catch (err) {
    throw new InvalidInputError(
      'nics[].dpdkDevargs',
      `${JSON.stringify(template)} for VF ${vf.vfIndex} of ${vf.pfPci}: ${errorMessage(err)}`,
    );
  }
  return { name: dpdkPortName(netdev, vf.pfPci, vf.vfIndex), dpdkDevargs: devargs };
}

/** {repIndex}: sriov_numvfs of the PF functions below this one on the same device. */
async function readRepIndex(nics: Pick<NicCache, 'numVfs'>, vf: ResolvedVf): Promise<number> {
  const fn = pciFunction(vf.pfPci);
  const counts = new Map<number, number>();
  for (let f = 0; f < fn; f++) {
    const pci = `${vf.pfPci.slice(0, -1)}${f}`;
    counts.set(f, (await nics.numVfs(pci)) ?? 0);
  }
  return representorIndex(vf.vfIndex, fn, counts);
}

/**
 * Waits for ovs-vswitchd to open the DPDK port. A failed probe leaves ofport -1 and the
 * reason in the Interface `error` column: quoted back as a config error (code 7), unless
 * DPDK itself is not up (then every DPDK port fails the same way, and it is transient).
 */
export async function waitForDpdkPort(
  d: { vswitch: Pick<Vswitch, 'waitForOfport' | 'getDpdkState'> },
  port: RepresentorPort,
  bridge: string,
  timeoutMs: number,
): Promise<number> {
  try {
    return await d.vswitch.waitForOfport(port.name, timeoutMs);
  } catch (err) {
    if (!(err instanceof InterfaceError)) throw err;
    const state = await d.vswitch.getDpdkState(bridge);
    if (!state.dpdkInitialized) {
      throw new TransientError(
        `DPDK port ${port.name}: DPDK is not initialised in ovs-vswitchd`,
        err.reason,
        { cause: err },
      );
    }
    throw new InvalidInputError(
      'nics[].dpdkDevargs',
      `ovs-vswitchd could not attach DPDK port ${port.name} (dpdk-devargs ${port.dpdkDevargs ?? '?'}): "${err.reason}"`,
    );
  }
}
