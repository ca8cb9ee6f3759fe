import { OvsOffloadError } from '../sys/index.js';

/**
 * The agent's domain errors for CNI requests. They say what is wrong in the agent's terms;
 * `cni-errors.ts` alone turns them (and the shared ones from src/sys) into CNI codes.
 */

/** A `CNI_*` value that can never work: missing netns, not a netns, a taken ifName (code 4). */
export class RequestEnvError extends OvsOffloadError {
  constructor(
    readonly variable: 'CNI_CONTAINERID' | 'CNI_NETNS' | 'CNI_IFNAME' | 'CNI_ARGS',
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
  }
}

/** The request body or its config cannot be decoded at all (code 6). */
export class DecodeError extends OvsOffloadError {}

/** The config's cniVersion is not one we speak (code 1). */
export class VersionError extends OvsOffloadError {}

/** The VF asked for serves another pod that still exists (code 7, bad config). */
export class VfInUseError extends OvsOffloadError {
  constructor(
    readonly pci: string,
    readonly pod: string,
    readonly containerID: string,
  ) {
    super(`VF ${pci} is in use by pod ${pod} (container ${containerID})`);
  }
}

/** CHECK found the attachment not as ADD left it (plugin code 100). */
export class CheckMismatchError extends OvsOffloadError {}

/**
 * A plugin we delegate to (IPAM) answered with a CNI error: its code passes through, and
 * its own "try again later" (11) makes it transient for us too.
 */
export class PluginError extends OvsOffloadError {
  readonly retryable: boolean;
  constructor(
    readonly code: number,
    message: string,
    readonly details = '',
  ) {
    super(message);
    this.retryable = code === 11;
  }
}

/** A condition that goes away by itself (OVSDB reconnecting, a slow controller): code 11. */
export class TransientError extends OvsOffloadError {
  readonly retryable = true;
  constructor(
    message: string,
    readonly details = '',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** STATUS: the agent cannot serve ADDs now (code 50). */
export class NotReadyError extends OvsOffloadError {}
