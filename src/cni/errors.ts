/**
 * CNI error codes (CNI spec "Error" section). Only the protocol edge speaks in these; the
 * agent maps its typed errors onto them when it answers.
 */
export const CniCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodeFailure: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
  /** STATUS: the plugin cannot serve ADDs now. */
  NotAvailable: 50,
  /** STATUS: available with limited connectivity. */
  LimitedConnectivity: 51,
  /** A plugin-specific code (≥ 100), as libcni's skel has it: a bug, never an answer by design. */
  Internal: 999,
} as const;

export class CniError extends Error {
  constructor(
    readonly code: number,
    msg: string,
    readonly details = '',
  ) {
    super(msg);
    this.name = 'CniError';
  }

  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return {
      cniVersion,
      code: this.code,
      msg: this.message,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}
