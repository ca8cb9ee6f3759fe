import { describe, expect, it } from 'vitest';
import {
  decideRepresentorType,
  isDpdkRepresentorPort,
  resolveRepresentorPort,
  waitForDpdkPort,
  type RepresentorPortDeps,
} from '../../../src/agent/attach/dpdk-port.js';
import { parseAgentConfig, type NicPolicy } from '../../../src/agent/config.js';
import {
  DEFAULT_DPDK_DEVARGS,
  dpdkPortName,
  renderDevargs,
  representorIndex,
} from '../../../src/agent/dpdk-devargs.js';
import { isTransient, toCniError } from '../../../src/agent/cni-errors.js';
import type { ResolvedVf } from '../../../src/agent/nic-cache.js';
import { InterfaceError } from '../../../src/ovs/errors.js';
import type { DpdkState } from '../../../src/ovs/vswitch.js';
import { NotFoundError, silentLogger } from '../../../src/sys/index.js';

const values = { pf: '0000:b3:00.1', vf: 3, representor: 'enp179s0f1r3', repIndex: 11 };

describe('dpdkDevargs templates', () => {
  it.each([
    [DEFAULT_DPDK_DEVARGS, '0000:b3:00.1,representor=[3]'],
    ['{pf},representor=vf{vf}', '0000:b3:00.1,representor=vf3'],
    ['{pf},representor=pf0vf{vf}', '0000:b3:00.1,representor=pf0vf3'],
    // Kube-OVN's YUSUR form with its DPDK_DEV written literally and the shared index.
    ['0000:b3:00.0,representor=[{repIndex}]', '0000:b3:00.0,representor=[11]'],
    [
      'net_af_packet_{representor},iface={representor}',
      'net_af_packet_enp179s0f1r3,iface=enp179s0f1r3',
    ],
  ])('%s renders as %s', (template, want) => {
    expect(renderDevargs(template, values)).toBe(want);
    expect(
      parseAgentConfig({ nics: [{ pci: '0000:b3:00.1', dpdkDevargs: template }] }).nics[0],
    ).toMatchObject({ dpdkDevargs: template });
  });

  it('leaves both keys unset by default: auto, and the Kube-OVN form', async () => {
    expect(parseAgentConfig({ nics: [{ pf: 'eth0' }] }).nics[0]).not.toHaveProperty('dpdkDevargs');
    const d = deps({}, dpdkUp, 'eth0_3');
    expect((await resolveRepresentorPort(d, vf, 'br-int')).dpdkDevargs).toBe(
      '0000:b3:00.1,representor=[3]',
    );
  });

  it.each([
    ['{pf},representor=[{vfid}]', /nics\[0\]\.dpdkDevargs: unknown placeholder \{vfid\}/],
    ['{pf,representor=[{vf}]', /nics\[0\]\.dpdkDevargs: unbalanced "\{" at offset 0/],
    ['{pf},representor=vf{vf}}', /nics\[0\]\.dpdkDevargs: unbalanced "\}" at offset 23/],
    ['', /nics\[0\]\.dpdkDevargs: is empty/],
  ])('refuses %j with its path', (template, msg) => {
    expect(() => parseAgentConfig({ nics: [{ pf: 'eth0', dpdkDevargs: template }] })).toThrow(msg);
  });

  it('refuses an unknown representorType', () => {
    expect(() => parseAgentConfig({ nics: [{ pf: 'eth0', representorType: 'vdpa' }] })).toThrow(
      /nics\[0\]\.representorType/,
    );
  });

  it('names a placeholder this VF has no value for', () => {
    expect(() => renderDevargs('x,iface={representor}', { ...values, representor: null })).toThrow(
      /\{representor\} has no value/,
    );
  });
});

describe('repIndex (Kube-OVN getRepIndex)', () => {
  it('adds the VFs of the lower-numbered PF functions', () => {
    expect(representorIndex(3, 0, new Map())).toBe(3);
    expect(representorIndex(3, 1, new Map([[0, 8]]))).toBe(11);
    expect(
      representorIndex(
        0,
        2,
        new Map([
          [0, 8],
          [1, 4],
        ]),
      ),
    ).toBe(12);
  });
});

describe('port name', () => {
  it('is the representor netdev, else the YUSUR pf<fn>vf<N>rep', () => {
    expect(dpdkPortName('eth0_3', '0000:b3:00.1', 3)).toBe('eth0_3');
    expect(dpdkPortName(null, '0000:b3:00.1', 3)).toBe('pf1vf3rep');
  });
});

describe('the auto rule', () => {
  it.each([
    ['netdev', true, 'dpdk'],
    ['netdev', false, 'netdev'],
    ['', true, 'netdev'],
    ['system', true, 'netdev'],
    [null, true, 'netdev'],
  ] as const)('datapath_type %j, dpdk_initialized %j: %s', (dp, init, want) => {
    expect(decideRepresentorType('auto', { datapathType: dp, dpdkInitialized: init })).toBe(want);
  });

  it('an explicit type wins', () => {
    const kernel = { datapathType: '', dpdkInitialized: false };
    expect(decideRepresentorType('dpdk', kernel)).toBe('dpdk');
    expect(decideRepresentorType('netdev', { datapathType: 'netdev', dpdkInitialized: true })).toBe(
      'netdev',
    );
  });

  it('recognises DPDK representor ports by Interface type', () => {
    expect(isDpdkRepresentorPort({ type: 'dpdk' })).toBe(true);
    expect(isDpdkRepresentorPort({ type: '' })).toBe(false);
  });
});

const vf: ResolvedVf = {
  pci: '0000:b3:01.3',
  pfPci: '0000:b3:00.1',
  vfIndex: 3,
  pfNetdev: null,
  eswitchMode: 'switchdev',
  driver: 'mlx5_core',
  netdev: 'eth5',
  legacyPortNames: false,
};

function deps(
  policy: Partial<NicPolicy>,
  state: DpdkState,
  rep: string | null,
): RepresentorPortDeps {
  const nic = parseAgentConfig({ nics: [{ pci: vf.pfPci, ...policy }] }).nics[0]!;
  return {
    config: parseAgentConfig({ nodeName: 'n1' }),
    vswitch: { getDpdkState: () => Promise.resolve(state) },
    nics: {
      policyOf: () => nic,
      representor: () =>
        rep ? Promise.resolve(rep) : Promise.reject(new NotFoundError('representor of VF')),
      numVfs: (pci: string) => Promise.resolve(pci.endsWith('.0') ? 8 : 4),
    },
    logger: silentLogger(),
  };
}
const dpdkUp = { datapathType: 'netdev', dpdkInitialized: true };

describe('resolveRepresentorPort', () => {
  it('auto on a netdev bridge with DPDK up: a DPDK port named after the representor', async () => {
    expect(await resolveRepresentorPort(deps({}, dpdkUp, 'eth0_3'), vf, 'br-int')).toEqual({
      name: 'eth0_3',
      dpdkDevargs: '0000:b3:00.1,representor=[3]',
    });
  });

  it('auto on a kernel bridge: the kernel representor', async () => {
    const d = deps({}, { datapathType: '', dpdkInitialized: true }, 'eth0_3');
    expect(await resolveRepresentorPort(d, vf, 'br-int')).toEqual({ name: 'eth0_3' });
  });

  it('a vfio PF without representor netdevs: pf<fn>vf<N>rep and the shared index', async () => {
    const d = deps({ dpdkDevargs: '0000:b3:00.0,representor=[{repIndex}]' }, dpdkUp, null);
    expect(await resolveRepresentorPort(d, vf, 'br-int')).toEqual({
      name: 'pf1vf3rep',
      dpdkDevargs: '0000:b3:00.0,representor=[11]',
    });
  });

  it('dpdk while DPDK is not initialised: transient (11), before anything changes', async () => {
    const d = deps(
      { representorType: 'dpdk' },
      { datapathType: 'netdev', dpdkInitialized: false },
      'r',
    );
    const err = await resolveRepresentorPort(d, vf, 'br-int').catch((e: unknown) => e);
    expect(isTransient(err)).toBe(true);
    expect(toCniError(err).code).toBe(11);
  });

  it('dpdk on a kernel-datapath bridge: config error (7)', async () => {
    const d = deps(
      { representorType: 'dpdk' },
      { datapathType: 'system', dpdkInitialized: true },
      'r',
    );
    const err = await resolveRepresentorPort(d, vf, 'br-int').catch((e: unknown) => e);
    expect(toCniError(err)).toMatchObject({ code: 7 });
    expect(String(err)).toMatch(/datapath_type="system"/);
  });

  it('{representor} on a PF without representor netdevs: config error (7)', async () => {
    const d = deps({ dpdkDevargs: 'x,iface={representor}' }, dpdkUp, null);
    const err = await resolveRepresentorPort(d, vf, 'br-int').catch((e: unknown) => e);
    expect(toCniError(err)).toMatchObject({ code: 7 });
  });
});

describe('waitForDpdkPort', () => {
  const port = { name: 'eth0_3', dpdkDevargs: '0000:81:00.0,representor=[1]' };
  const failing = (state: DpdkState) => ({
    vswitch: {
      waitForOfport: () =>
        Promise.reject(
          new InterfaceError(
            'eth0_3',
            "Error attaching device '0000:81:00.0,representor=[1]' to DPDK",
          ),
        ),
      getDpdkState: () => Promise.resolve(state),
    },
  });

  it('a probe failure is a config error quoting the Interface error', async () => {
    const err = await waitForDpdkPort(failing(dpdkUp), port, 'br-int', 100).catch(
      (e: unknown) => e,
    );
    const cni = toCniError(err);
    expect(cni.code).toBe(7);
    expect(cni.message).toContain(
      `"Error attaching device '0000:81:00.0,representor=[1]' to DPDK"`,
    );
  });

  it('DPDK down: transient', async () => {
    const s = { datapathType: 'netdev', dpdkInitialized: false };
    const err = await waitForDpdkPort(failing(s), port, 'br-int', 100).catch((e: unknown) => e);
    expect(toCniError(err).code).toBe(11);
  });

  it('resolves with the ofport', async () => {
    const d = {
      vswitch: {
        waitForOfport: () => Promise.resolve(4),
        getDpdkState: () => Promise.resolve(dpdkUp),
      },
    };
    expect(await waitForDpdkPort(d, port, 'br-int', 100)).toBe(4);
  });
});
