import { netnsFromPath } from '../../sys/index.js';
import { CheckMismatchError } from '../errors.js';
import { findVfLink, netnsExists } from '../podnet.js';
import type { AttachmentState } from '../state.js';
import { isDpdkRepresentorPort } from './dpdk-port.js';
import { ATTACHMENT_KEY, attachmentKey } from './keys.js';
import type { AttachRequest } from './request.js';
import { PrevResultSchema } from './result.js';
import type { TeardownDeps } from './teardown.js';
import { InvalidInputError } from '../../sys/index.js';

/**
 * CNI CHECK: the VF the runtime's prevResult says we created is in the pod under `ifName`
 * (found by its PCI parent, not by name) with the addresses prevResult lists for it, and
 * (offload) its representor is on the bridge with the right iface-id. A mismatch is
 * CheckMismatchError (plugin code 100): the runtime will not cure it by retrying.
 */
export async function checkAttachment(
  d: TeardownDeps,
  req: AttachRequest,
  s: AttachmentState | undefined,
): Promise<void> {
  const fail = (msg: string) =>
    new CheckMismatchError(`CHECK ${req.containerID}/${req.ifName}: ${msg}`);
  if (!s?.addCompleted) throw fail('no completed attachment on this node');
  const prev = PrevResultSchema.safeParse(req.conf.prevResult);
  if (!prev.success) throw new InvalidInputError('prevResult', 'is not a CNI result');
  const index = (prev.data.interfaces ?? []).findIndex(
    (i) => i.name === req.ifName && (i.sandbox === undefined || i.sandbox === req.netns),
  );
  if (index < 0) throw fail(`prevResult has no interface ${req.ifName} in ${req.netns}`);
  if (req.netns !== s.netns) throw fail(`attached in ${s.netns}, not ${req.netns}`);
  if (s.vf.originalName !== null) {
    if (!(await netnsExists(req.netns))) throw fail(`${req.netns} is not a network namespace`);
    const ns = netnsFromPath(req.netns);
    const link = await findVfLink(d.ip, d.runner, ns, s.vf.pci);
    if (!link) throw fail(`VF ${s.vf.pci} is not in ${req.netns}`);
    if (link.ifname !== req.ifName) throw fail(`VF ${s.vf.pci} is named ${link.ifname} in the pod`);
    const want = (prev.data.ips ?? []).filter((a) => a.interface === index);
    if (want.length > 0) {
      const r = await d.ip.run(ns, ['-j', 'addr', 'show', 'dev', link.ifname]);
      for (const a of want) {
        const [addr] = a.address.split('/');
        if (addr && !r.stdout.includes(`"${addr}"`))
          throw fail(`${req.ifName} lacks address ${a.address}`);
      }
    }
  }
  if (s.mode === 'offload' && s.representor) {
    const [iface] = await d.vswitch.findInterfacesByExternalId(
      ATTACHMENT_KEY,
      attachmentKey(req.containerID, req.ifName),
    );
    if (!iface || iface.name !== s.representor)
      throw fail(`representor ${s.representor} is not on OVS for this attachment`);
    if (iface.bridge !== s.bridge) {
      throw fail(
        `representor ${s.representor} is on ${iface.bridge ?? 'no bridge'}, expected ${s.bridge ?? '?'}`,
      );
    }
    if (s.dpdkDevargs !== undefined && !isDpdkRepresentorPort(iface)) {
      throw fail(`representor port ${s.representor} is type "${iface.type}", expected dpdk`);
    }
    if (s.dpdkDevargs !== undefined && (iface.ofport === null || iface.ofport <= 0)) {
      throw fail(
        `DPDK port ${s.representor} is not open in ovs-vswitchd${iface.error ? `: ${iface.error}` : ''}`,
      );
    }
    if (iface.externalIds['iface-id'] !== s.ifaceId) {
      throw fail(
        `representor ${s.representor} has iface-id ${iface.externalIds['iface-id'] ?? 'none'}, expected ${s.ifaceId ?? '?'}`,
      );
    }
  }
}
