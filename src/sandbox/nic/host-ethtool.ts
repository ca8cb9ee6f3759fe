import type { NicState } from './state.js';

/** argv of the real ethtool run inside the sandbox host netns. */
function inHost(nic: NicState, realEthtool: string, args: readonly string[]): string[] {
  return ['nsenter', `--net=/var/run/netns/${nic.host.name}`, realEthtool, ...args];
}

/**
 * A NIC computes checksums in hardware; a veth leaves them to "the device" (partial
 * checksums). OVS's userspace datapath reads packets with AF_PACKET and forwards them as
 * they are, so TCP between pods would carry bad checksums and stall: turn transmit
 * checksum offload off on both ends, as a real VF/representor pair behaves.
 */
export async function hardwareChecksums(nic: NicState, devs: readonly string[]): Promise<void> {
  const real = nic.cfg.realEthtool;
  if (!real) return;
  // One process per device (ethtool has no batch mode): a few at a time, or a 512-VF PF
  // waits out a thousand sequential forks before its VFs appear.
  const queue = [...devs];
  const worker = async () => {
    for (let dev = queue.shift(); dev !== undefined; dev = queue.shift()) {
      await nic.runner
        .run(inHost(nic, real, ['-K', dev, 'tx', 'off']), { okExitCodes: [1, 75] })
        .catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, devs.length) }, worker));
}

/** The real `ethtool -k DEV` output in the host netns (the features veth really has), or null. */
export async function realFeatures(nic: NicState, dev: string): Promise<string | null> {
  const real = nic.cfg.realEthtool;
  if (!real) return null;
  const r = await nic.runner
    .run(inHost(nic, real, ['-k', dev]), { okExitCodes: [1, 75] })
    .catch(() => null);
  return r && r.exitCode === 0 ? r.stdout : null;
}
