import { formatPciAddress, fromRoutingId } from '../../sys/index.js';
import type { NicIdentity } from './identity.js';

/** PF n of the NIC is function n of its bus (routing ID `bus << 8 | n`). */
export function pfPci(bus: number, index: number): string {
  return formatPciAddress(fromRoutingId(0, (bus << 8) | index));
}

/** The SR-IOV capability's First VF Offset of a PF (its `sriov_offset`). */
export function sriovOffset(
  identity: NicIdentity,
  pf: { index: number; totalVfs: number },
): number {
  return identity.vfOffset - pf.index + pf.index * pf.totalVfs;
}

/** VF routing ID = PF RID + offset + stride·n; each PF's VFs follow the previous PF's. */
export function vfPci(
  bus: number,
  identity: NicIdentity,
  pf: { index: number; totalVfs: number },
  n: number,
): string {
  const pfRid = (bus << 8) | pf.index;
  return formatPciAddress(
    fromRoutingId(0, pfRid + sriovOffset(identity, pf) + n * identity.vfStride),
  );
}
