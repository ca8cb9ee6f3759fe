import { randomBytes } from 'node:crypto';

/**
 * Every name a sandbox creates carries its short id so sandboxes of parallel test files
 * never collide and leftovers are easy to find. Linux interface names stay within 15 bytes.
 */
export const SANDBOX_PREFIX = 'oo';

export function newSandboxId(): string {
  // 4 base-36 chars, starting with a letter so `o<id>...` never reads as a number to ip.
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(4);
  let id = alphabet[(bytes[0] ?? 0) % 26] ?? 'a';
  for (let i = 1; i < 4; i++) id += alphabet[(bytes[i] ?? 0) % 36] ?? 'a';
  return id;
}

export function hostNetnsName(id: string): string {
  return `${SANDBOX_PREFIX}h-${id}`;
}

/** A namespace that hides unbound VF netdevs: an unbound VF has no netdev at all. */
export function limboNetnsName(id: string): string {
  return `${SANDBOX_PREFIX}l-${id}`;
}

export function podNetnsName(id: string, pod: string): string {
  return `${SANDBOX_PREFIX}p-${id}-${pod}`;
}

export const POD_NAME_RE = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

/** Netdev names of the emulated NIC: `o<id>p<pf>` uplink, `o<id>p<pf>v<vf>` VF, `o<id>p<pf>_<vf>` representor. */
export const nicNames = {
  uplink: (id: string, pf: number) => `o${id}p${pf}`,
  wire: (id: string, pf: number) => `o${id}w${pf}`,
  vf: (id: string, pf: number, vf: number) => `o${id}p${pf}v${vf}`,
  representor: (id: string, pf: number, vf: number) => `o${id}p${pf}_${vf}`,
  /** The eswitch-internal end of a VF's pair while in legacy mode (not a netdev of the NIC). */
  legacyPeer: (id: string, pf: number, vf: number) => `o${id}p${pf}e${vf}`,
  legacyBridge: (id: string, pf: number) => `o${id}b${pf}`,
};
