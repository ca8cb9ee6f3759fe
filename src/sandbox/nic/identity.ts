/**
 * PCI identities the emulated NIC can wear, with each driver's eswitch rules as the real
 * drivers enforce them (so our switchdev strategies are exercised against the same refusals).
 */
export type IdentityName = 'mlx5' | 'metascale' | 'e810';

export interface NicIdentity {
  name: IdentityName;
  vendor: string;
  pfDevice: string;
  vfDevice: string;
  pfDriver: string;
  vfDriver: string;
  /** Driver name a representor reports in `ethtool -i`. */
  repDriver: string;
  /** Default sriov_totalvfs. */
  totalVfs: number;
  /** Routing-ID offset of VF0 from its PF and the stride (PCI SR-IOV capability fields). */
  vfOffset: number;
  vfStride: number;
  /**
   * When `devlink dev eswitch set ... mode X` is refused:
   *  - 'vfsBound': mlx5 before kernel 5.x refuses while VF drivers are bound (hence
   *    unbind → switchdev → rebind);
   *  - 'vfsExist': ice allows the change only with no VFs ("Changing eswitch mode is
   *    allowed only if there is no VFs created");
   *  - 'never'.
   */
  modeChangeRefusedWhen: 'vfsBound' | 'vfsExist' | 'never';
  refusalMessage: string;
  /** VFs expose an RDMA device (infiniband_verbs/uverbsN). */
  rdma: boolean;
}

export const IDENTITIES: Record<IdentityName, NicIdentity> = {
  mlx5: {
    name: 'mlx5',
    vendor: '15b3',
    pfDevice: '1017',
    vfDevice: '1018',
    pfDriver: 'mlx5_core',
    vfDriver: 'mlx5_core',
    repDriver: 'mlx5e_rep',
    totalVfs: 16,
    vfOffset: 2,
    vfStride: 1,
    modeChangeRefusedWhen: 'vfsBound',
    refusalMessage: 'mlx5_core: Can not change eswitch mode while VFs are bound to a driver',
    rdma: true,
  },
  metascale: {
    name: 'metascale',
    vendor: '1f67',
    pfDevice: '1111',
    vfDevice: '1112',
    pfDriver: 'xsc_pci',
    vfDriver: 'xsc_pci',
    repDriver: 'xsc_rep',
    totalVfs: 512,
    vfOffset: 2,
    vfStride: 1,
    modeChangeRefusedWhen: 'never',
    refusalMessage: 'xsc_pci: mode change refused',
    rdma: false,
  },
  e810: {
    name: 'e810',
    vendor: '8086',
    pfDevice: '1592',
    vfDevice: '1889',
    pfDriver: 'ice',
    vfDriver: 'iavf',
    repDriver: 'ice',
    totalVfs: 64,
    vfOffset: 16,
    vfStride: 1,
    modeChangeRefusedWhen: 'vfsExist',
    refusalMessage: 'ice: Changing eswitch mode is allowed only if there is no VFs created',
    rdma: false,
  },
};
