/**
 * Drivers that hand a PCI function to user space (DPDK, VMs): the kernel network stack
 * lets go of it, so it has no netdev, and devlink, which the network driver registers, has
 * nothing to say about it.
 */
export const USERSPACE_DRIVERS: ReadonlySet<string> = new Set([
  'vfio-pci',
  'uio_pci_generic',
  'igb_uio',
  'pci-stub',
]);

export function isUserspaceDriver(driver: string | null): boolean {
  return driver !== null && USERSPACE_DRIVERS.has(driver);
}
