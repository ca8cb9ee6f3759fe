import type { VswitchdDpdk } from './dpdk-ports.js';

/**
 * Whether ovs-vswitchd can hold DPDK representor ports on a bridge, told as findings: each
 * says what is wrong and the command that fixes it. Reported only: the agent changes
 * other_config only for the keys its config names (`ovs.hwOffload`).
 */

export interface DpdkFinding {
  ok: boolean;
  /** `dpdk-init`, `dpdk_initialized`, `hw-offload`, `datapath_type`. */
  what: string;
  message: string;
  fix: string | null;
}

export interface ReadinessOptions {
  bridge: string;
  /** The agent config's `ovs.hwOffload` (undefined: leave as it is). */
  hwOffload?: boolean | undefined;
}

export function dpdkReadiness(vs: VswitchdDpdk, opts: ReadinessOptions): DpdkFinding[] {
  const out: DpdkFinding[] = [];
  const init = vs.dpdkInit;
  const initOn = init === 'true' || init === 'try';
  out.push({
    ok: initOn,
    what: 'dpdk-init',
    message: initOn
      ? `other_config:dpdk-init=${init}`
      : `other_config:dpdk-init is ${init === null ? 'not set' : init}: ovs-vswitchd starts no DPDK, type=dpdk ports cannot open`,
    fix: initOn
      ? null
      : 'ovs-vsctl set Open_vSwitch . other_config:dpdk-init=true (and hugepages, dpdk-socket-mem), then restart ovs-vswitchd',
  });
  if (vs.initialized !== null) {
    out.push({
      ok: vs.initialized,
      what: 'dpdk_initialized',
      message: vs.initialized
        ? 'dpdk_initialized=true'
        : 'dpdk_initialized=false: DPDK is not (yet) initialised in ovs-vswitchd (an ovs-vswitchd without DPDK, no hugepages, or EAL failed: see ovs-vswitchd.log)',
      fix: vs.initialized
        ? null
        : 'run the DPDK build of ovs-vswitchd with hugepages mounted; ovs-vswitchd.log says why EAL failed',
    });
  }
  const hwOn = vs.hwOffload === true;
  const willSet = !hwOn && opts.hwOffload === true;
  out.push({
    ok: hwOn,
    what: 'hw-offload',
    message: hwOn
      ? 'other_config:hw-offload=true'
      : `other_config:hw-offload is ${vs.hwOffload === null ? 'not set' : 'false'}: rte_flow gets no flow, everything stays in the PMD threads` +
        (willSet ? ' (the agent sets it at start: ovs.hwOffload is true)' : ''),
    fix: hwOn
      ? null
      : willSet
        ? 'restart ovs-vswitchd after the agent set it (it reads hw-offload only at start)'
        : 'ovs.hwOffload: true in the agent config, or ovs-vsctl set Open_vSwitch . other_config:hw-offload=true; restart ovs-vswitchd',
  });
  const dpType = vs.datapathTypes[opts.bridge];
  const netdev = dpType === 'netdev';
  out.push({
    ok: netdev,
    what: 'datapath_type',
    message:
      dpType === undefined
        ? `bridge ${opts.bridge} does not exist`
        : netdev
          ? `bridge ${opts.bridge} datapath_type=netdev`
          : `bridge ${opts.bridge} datapath_type=${dpType === '' ? 'system (unset)' : dpType}: DPDK ports live only on the userspace datapath`,
    fix: netdev
      ? null
      : `ovs-vsctl set Bridge ${opts.bridge} datapath_type=netdev (Kube-OVN's OVS-DPDK image creates br-int that way)`,
  });
  return out;
}

/**
 * `representorType: auto` as the agent decides it: DPDK when the bridge is on the userspace
 * datapath and DPDK is initialised, else kernel representors.
 */
export function autoRepresentorType(vs: VswitchdDpdk, bridge: string): 'dpdk' | 'netdev' {
  return vs.datapathTypes[bridge] === 'netdev' && vs.initialized === true ? 'dpdk' : 'netdev';
}
