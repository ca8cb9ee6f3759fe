import type { CniResult, CniResultInterface } from '../../cni/types.js';
import { OWNER_KEY } from '../../ovs/vswitch-types.js';
import { ATTACHMENT_KEY, attachmentKey } from './keys.js';
import type { Vswitch } from '../../ovs/vswitch.js';
import type { CommandRunner, Ip, Logger } from '../../sys/index.js';
import { applyVfKnobs, readVfKnobs, USERSPACE_DRIVERS, type VfKnobs } from '../../vf/index.js';
import type { AgentConfig } from '../config.js';
import { runIpam } from '../ipam.js';
import type { NicCache, ResolvedVf } from '../nic-cache.js';
import { configureInPod, moveToPod } from '../podnet.js';
import type { AttachmentState, StateStore } from '../state.js';
import type { Timeline } from '../timeline.js';
import { TransientError } from '../errors.js';
import { InvalidInputError } from '../../sys/index.js';
import type { AttachRequest } from './request.js';
import { buildResult } from './result.js';
import { decideMtu, type MtuDecision, type OvnEncap } from './mtu.js';
import { readVfAdminMac, setVfAdminMac } from '../../vf/index.js';
import { withNetconfRoutes } from '../routes.js';
import { applyBandwidthOnAdd } from './bandwidth.js';
import { waitForDpdkPort } from './dpdk-port.js';
import type { PodApi } from '../kubeovn.js';

/** What an IpSource found for a request. */
export interface IpSourceResult {
  /** Addresses and exactly the routes the interface gets (applied with `ip route replace`). */
  result: CniResult;
  mac?: string;
  /** Overrides the request's iface-id (Kube-OVN's `<pod>.<ns>.<provider>.<ifName>` form). */
  ifaceId?: string;
}

/** Where a pod's addresses come from when the config has no `ipam` (Kube-OVN annotations). */
export interface IpSource {
  /** null: this request is not for it (no OVN provider, or no API access configured). */
  resolve(req: AttachRequest): Promise<IpSourceResult | null>;
  /** Tells Kube-OVN which representor serves the pod (vf_representor annotation). */
  published?(req: AttachRequest, representor: string | null): Promise<void>;
  /** The pod's Kube-OVN Subnet and its `spec.mtu` (0: unset); null when it has none. */
  subnetMtu?(req: AttachRequest): Promise<{ name: string; mtu: number } | null>;
}

export interface AddDeps {
  config: AgentConfig;
  vswitch: Vswitch;
  nics: NicCache;
  ip: Ip;
  runner: CommandRunner;
  store: StateStore;
  logger: Logger;
  ipSource?: IpSource | undefined;
  /** Whether ovn-controller manages this node (Open_vSwitch external_ids:ovn-remote). */
  ovnManaged(): Promise<boolean>;
  /** OVN's encapsulation on this node (mtu.ts readOvnEncap); null when OVN does not manage it. */
  ovnEncap(): Promise<OvnEncap | null>;
  /** The pods API for Kube-OVN's rate annotations (null/absent: no `kubernetes` section). */
  pods?: Pick<PodApi, 'annotations'> | null | undefined;
}

/** What a fresh VF has, and what Kube-OVN writes on delete (ovs_linux.go deleteNic). */
const ZERO_MAC = '00:00:00:00:00:00';

/** An interface attribute Kube-OVN reads: the pod's addresses without prefix length. */
function ipList(r: CniResult | null): string {
  return (r?.ips ?? []).map((i) => i.address.split('/')[0]).join(',');
}

export function chooseMode(req: AttachRequest, vf: ResolvedVf): 'offload' | 'legacy' {
  const want = req.conf.mode ?? 'auto';
  // A `dpdk` PF (vfio-pci) has no netdev for VF knobs: its VFs are offloaded or nothing.
  const have = vf.eswitchMode === 'legacy' ? 'legacy' : 'offload';
  if (want !== 'auto' && want !== have) {
    throw new InvalidInputError(
      'mode',
      `${want} needs PF ${vf.pfPci} in ${want === 'offload' ? 'switchdev' : 'legacy'} mode, but its eswitch is ${vf.eswitchMode}`,
    );
  }
  return have;
}

/** The legacy knobs a NetConf asks for, in the NIC layer's vocabulary (sriov-cni spelling in). */
export function legacyKnobs(req: AttachRequest, mac: string | undefined): VfKnobs {
  const c = req.conf;
  const k: VfKnobs = {};
  if (mac) k.mac = mac;
  if (c.vlan !== undefined) {
    k.vlan = c.vlan;
    if (c.vlanQoS !== undefined) k.qos = c.vlanQoS;
    if (c.vlanProto !== undefined)
      k.proto = c.vlanProto.toLowerCase() === '802.1ad' ? '802.1ad' : '802.1Q';
  }
  if (c.spoofchk) k.spoofchk = c.spoofchk;
  if (c.trust) k.trust = c.trust;
  if (c.link_state) k.linkState = c.link_state;
  if (c.min_tx_rate !== undefined) k.minTxRate = c.min_tx_rate;
  if (c.max_tx_rate !== undefined) k.maxTxRate = c.max_tx_rate;
  return k;
}

/**
 * ADD after validation, with the VF lock held and the state file written by the caller.
 * Every mutation here is undone by teardown() from the state file, so a failure at any step
 * (or a crash) leaves nothing behind.
 */
export async function addAttachment(
  d: AddDeps,
  req: AttachRequest,
  vf: ResolvedVf,
  s: AttachmentState,
  t: Timeline,
  progress: { ipamAdded: boolean } = { ipamAdded: false },
): Promise<CniResult> {
  const log = d.logger.child({
    containerID: req.containerID,
    pod: `${req.pod.namespace}/${req.pod.name}`,
    vf: vf.pci,
  });
  const netdevless = vf.driver !== null && USERSPACE_DRIVERS.has(vf.driver);

  // Addresses first: a failing IPAM (exhausted range) stops us before anything moves.
  let ip: CniResult | null = null;
  let mac = req.conf.runtimeConfig?.mac ?? req.conf.mac;
  // Kube-OVN's routes without a gw are on-link; an IPAM result's go via its gateway.
  let routesOnLink = false;
  if (req.conf.ipam) {
    ip = await runIpam(d.runner, {
      command: 'ADD',
      containerID: req.containerID,
      netns: req.netns,
      ifName: req.ifName,
      cniArgs: req.cniArgs,
      path: req.path,
      config: req.raw,
    });
    progress.ipamAdded = true;
    if (ip && req.conf.routes?.length) {
      // Exactly the plugin's own routes, then the NetConf `routes` (same dst: replaced).
      ip = { ...ip, routes: withNetconfRoutes(ip.routes, req.conf.routes) };
    }
  } else if (d.ipSource) {
    const got = await d.ipSource.resolve(req);
    if (got) {
      ip = got.result;
      mac ??= got.mac;
      routesOnLink = true;
      if (got.ifaceId) {
        // Before the representor is attached: OVN binds the port by this iface-id, and
        // CHECK compares the port's iface-id with the state's.
        req.ifaceId = got.ifaceId;
        if (s.mode === 'offload') s.ifaceId = got.ifaceId;
      }
    }
  }
  if (!ip && req.conf.routes?.length) {
    // Nothing changed yet: no address, so no gateway a route could go through.
    throw new InvalidInputError(
      'routes',
      'needs addresses: an "ipam" section or a Kube-OVN provider with pod annotations',
    );
  }
  s.result = ip as Record<string, unknown> | null;
  t.mark('ipam');

  // The MTU (mtu.ts), decided before the first host change: an explicit value the uplink
  // cannot carry is refused here, with nothing changed but an IPAM lease the undo releases.
  const mtu = await podMtu(d, req, vf, s, !req.conf.ipam && ip !== null);
  if (mtu.mtu !== null) log.debug({ mtu: mtu.mtu, source: mtu.source, why: mtu.why }, 'pod MTU');
  if (s.mode === 'offload' && (await snapshotOffload(d, vf, s, mac, mtu))) {
    // On disk before the changes they undo.
    await d.store.write(s);
  }

  // Home-side lines that go in the same `ip -batch` as the VF's move.
  const homeFirst: string[][] = [];
  if (s.mode === 'offload') {
    if (mac) {
      // Kube-OVN sets the VF's administrative MAC in switchdev too (ovs_linux.go
      // setupSriovInterface → setVfMac), as well as the netdev's (configureInPod below):
      // through the PF, devlink's port function as fallback (src/vf/admin-mac.ts says why).
      await setVfAdminMac(
        d.ip,
        d.runner,
        { pfPci: vf.pfPci, pfNetdev: s.vf.pfNetdev, vfIndex: vf.vfIndex },
        mac,
      );
      t.mark('vf-mac');
    }
    await attachRepresentor(d, req, vf, s, ip, mtu.mtu);
    t.mark('ovs-attach');
    // Kube-OVN sets the limits right after the port (ovs_linux.go configureNic →
    // SetInterfaceBandwidth); teardown's detach deletes them with the port.
    await applyBandwidthOnAdd({ vswitch: d.vswitch, pods: d.pods, logger: log }, req, s);
    t.mark('bandwidth');
    if (s.representor && s.dpdkDevargs !== undefined) {
      // A DPDK port is started by its PMD when ovs-vswitchd adds it: no kernel link to bring
      // up (with a bifurcated PMD the kernel representor is not ours to touch).
      await waitForDpdkPort(
        d,
        { name: s.representor, dpdkDevargs: s.dpdkDevargs },
        s.bridge ?? d.config.ovs.bridge,
        10_000,
      );
      t.mark('ofport');
    } else if (s.representor) {
      // The representor carries traffic only once OVS has it: up after ovs-vswitchd has the
      // port, never before (the host stack would answer for it meanwhile).
      await d.vswitch.waitForOfport(s.representor, 10_000);
      t.mark('ofport');
      homeFirst.push(['link', 'set', 'dev', s.representor, 'up']);
    }
  } else {
    const knobs = legacyKnobs(req, mac);
    if (Object.keys(knobs).length > 0) {
      if (!s.vf.pfNetdev) {
        throw new InvalidInputError(
          'deviceID',
          `PF ${vf.pfPci} has no netdev to set VF knobs through`,
        );
      }
      await applyVfKnobs(d.ip, s.vf.pfNetdev, vf.vfIndex, knobs);
      t.mark('knobs');
    }
  }

  let iface: CniResultInterface;
  if (netdevless) {
    // A VF bound to vfio-pci (DPDK pods) has no netdev: it is attached by its PCI address.
    if (homeFirst.length > 0) await d.ip.batch(null, homeFirst);
    iface = { name: req.ifName, sandbox: req.netns, pciID: vf.pci };
  } else {
    const dev = s.vf.originalName;
    if (!dev) throw new Error('no VF netdev recorded');
    // The move is the slow part of a pod start: the kernel waits for an RCU grace period
    // (~20 ms) whenever a device changes netns.
    await moveToPod(d.ip, dev, req.netns, req.ifName, homeFirst);
    t.mark('move');
    await configureInPod(d.ip, req.netns, req.ifName, {
      mac,
      mtu: mtu.mtu ?? undefined,
      addresses: ip,
      routesOnLink,
    });
    t.mark('pod-config');
    // A VF keeps its MAC across the move: the one we set, or the one it had.
    const ifMac = mac ?? s.vf.originalMac;
    iface = {
      name: req.ifName,
      ...(ifMac ? { mac: ifMac } : {}),
      sandbox: req.netns,
      pciID: vf.pci,
    };
  }

  if (s.mode === 'offload' && s.representor) {
    if (await d.ovnManaged()) {
      try {
        await d.vswitch.waitForExternalId(
          s.representor,
          'ovn-installed',
          'true',
          d.config.ovs.ovnInstalledTimeoutMs,
        );
      } catch (err) {
        throw new TransientError(
          `OVN did not install iface-id ${req.ifaceId} (port ${s.representor}) within ${d.config.ovs.ovnInstalledTimeoutMs} ms: is there a logical switch port ${req.ifaceId}?`,
          err instanceof Error ? err.message : String(err),
        );
      }
    }
  }
  try {
    await d.ipSource?.published?.(req, s.representor);
  } catch (err) {
    // The pod has its network; a missing annotation only costs Kube-OVN a hint.
    log.warn(
      { err: err instanceof Error ? err.message : String(err) },
      'could not annotate the pod',
    );
  }
  return buildResult(req.cniVersion, iface, ip, req.conf.prevResult);
}

/** The representor onto its bridge in one OVSDB transaction, with the Kube-OVN external_ids. */
async function attachRepresentor(
  d: AddDeps,
  req: AttachRequest,
  vf: ResolvedVf,
  s: AttachmentState,
  ip: CniResult | null,
  mtu: number | null,
): Promise<void> {
  const rep = s.representor;
  if (!rep) throw new Error('no representor recorded');
  const attachment = attachmentKey(req.containerID, req.ifName);
  const res = await d.vswitch.attachPort({
    bridge: s.bridge ?? d.config.ovs.bridge,
    name: rep,
    // Kube-OVN's YUSUR port (ovs_linux.go): type=dpdk, options:dpdk-devargs, mtu_request,
    // the same external_ids as a kernel representor.
    ...(s.dpdkDevargs !== undefined
      ? { type: 'dpdk', options: { 'dpdk-devargs': s.dpdkDevargs } }
      : {}),
    interfaceExternalIds: {
      'iface-id': req.ifaceId,
      vendor: 'ovs-offload',
      // A runtime outside Kubernetes sends no pod: no Kube-OVN pod keys rather than empty ones.
      ...(req.pod.name ? { pod_name: req.pod.name, pod_namespace: req.pod.namespace } : {}),
      pod_netns: req.netns,
      ...(ipList(ip) ? { ip: ipList(ip) } : {}),
      [ATTACHMENT_KEY]: attachment,
      [OWNER_KEY]: d.config.nodeName,
    },
    portExternalIds: { [OWNER_KEY]: d.config.nodeName, [ATTACHMENT_KEY]: attachment },
    ...(req.conf.vlan ? { tag: req.conf.vlan } : {}),
    // Kube-OVN sets the pod's MTU on the representor too (ovs_linux.go configureNic
    // LinkSetMTU); mtu_request makes ovs-vswitchd set it and keep it set.
    ...(mtu !== null ? { mtuRequest: mtu } : {}),
  });
  if (!res.created) {
    // A port of that name was already there: only ours (a repeated ADD) may be reused.
    const mine = await d.vswitch.findInterfacesByExternalId(ATTACHMENT_KEY, attachment);
    if (!mine.some((i) => i.name === rep)) {
      throw new InvalidInputError(
        'deviceID',
        `representor ${rep} of VF ${vf.pci} is already on a bridge for another attachment`,
      );
    }
  }
}

/** The MTU precedence of mtu.ts over what this request, the Subnet, OVN and the NIC say. */
async function podMtu(
  d: AddDeps,
  req: AttachRequest,
  vf: ResolvedVf,
  s: AttachmentState,
  fromKubeOvn: boolean,
): Promise<MtuDecision> {
  const netconf = req.conf.mtu;
  const subnet =
    netconf === undefined && fromKubeOvn ? ((await d.ipSource?.subnetMtu?.(req)) ?? null) : null;
  // kube-ovn derives from the tunnel only for the overlay it runs: an OVN-managed node.
  const encap =
    netconf === undefined && !subnet?.mtu && s.mode === 'offload' ? await d.ovnEncap() : null;
  const uplinkMtu = vf.pfNetdev ? (await d.nics.netdevFacts(vf.pfPci, vf.pfNetdev)).mtu : null;
  return decideMtu({ netconf, subnet, encap, uplinkMtu, vfMtu: s.vf.originalMtu });
}

/**
 * Records in `s` what offload-mode ADD is about to change beyond the VF netdev: the VF's
 * administrative MAC (vfinfo_list through the PF; a PF without netdev cannot say, and a fresh
 * VF has zeros) and the representor's MTU. true when something was recorded.
 */
async function snapshotOffload(
  d: AddDeps,
  vf: ResolvedVf,
  s: AttachmentState,
  mac: string | undefined,
  mtu: MtuDecision,
): Promise<boolean> {
  let recorded = false;
  if (mac) {
    s.vf.adminMacBefore =
      (s.vf.pfNetdev ? await readVfAdminMac(d.ip, s.vf.pfNetdev, vf.vfIndex) : null) ?? ZERO_MAC;
    recorded = true;
  }
  // A DPDK port's MTU lives in the PMD and goes with the port: nothing to restore.
  if (mtu.mtu !== null && s.representor && s.dpdkDevargs === undefined) {
    const before = (await d.nics.netdevFacts(vf.pfPci, s.representor)).mtu;
    if (before !== null && before !== mtu.mtu) {
      s.representorMtuBefore = before;
      recorded = true;
    }
  }
  return recorded;
}

/** The knobs to restore on DEL, read before anything is changed. */
export async function snapshotKnobs(d: AddDeps, vf: ResolvedVf): Promise<VfKnobs | null> {
  if (!vf.pfNetdev) return null;
  return readVfKnobs(d.ip, vf.pfNetdev, vf.vfIndex);
}
