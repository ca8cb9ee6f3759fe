import type { ToolResult } from './protocol.js';

export interface EthtoolModel {
  /** Emulated netdev (uplink or representor) by current name. */
  netdev(name: string): { driver: string; busInfo: string; hwTcOffload: boolean } | undefined;
  setHwTcOffload(name: string, on: boolean): boolean;
}

/**
 * `ethtool -K DEV hw-tc-offload on|off`, `ethtool -k DEV` and `ethtool -i DEV` for the
 * emulated uplinks and representors (veth itself has hw-tc-offload "off [fixed]").
 * Returns passthrough for everything else.
 */
export function runEthtool(
  model: EthtoolModel,
  argv: readonly string[],
  realFeatures: string | null,
): ToolResult {
  const [flag, dev, ...rest] = argv;
  const nd = dev === undefined ? undefined : model.netdev(dev);
  if (!nd || dev === undefined) return { stdout: '', stderr: '', code: 0, passthrough: true };
  if (flag === '-K' || flag === '--features' || flag === '--offload') {
    let changed = false;
    for (let i = 0; i < rest.length; i += 2) {
      const feature = rest[i];
      const v = rest[i + 1];
      if (feature !== 'hw-tc-offload' || (v !== 'on' && v !== 'off')) {
        return {
          stdout: '',
          stderr: `ethtool stand-in: only hw-tc-offload on|off is emulated\n`,
          code: 1,
        };
      }
      if (!model.setHwTcOffload(dev, v === 'on')) {
        return {
          stdout: '',
          stderr: `Cannot change hw-tc-offload\nCould not change any device features\n`,
          code: 1,
        };
      }
      changed = true;
    }
    return { stdout: '', stderr: changed ? '' : 'no features changed\n', code: 0 };
  }
  if (flag === '-k' || flag === '--show-features' || flag === '--show-offload') {
    const line = `hw-tc-offload: ${nd.hwTcOffload ? 'on' : 'off'}`;
    const base = realFeatures ?? `Features for ${dev}:\nhw-tc-offload: off [fixed]\n`;
    return { stdout: base.replace(/^hw-tc-offload:.*$/m, line), stderr: '', code: 0 };
  }
  if (flag === '-i' || flag === '--driver') {
    return {
      stdout:
        `driver: ${nd.driver}\nversion: 6.1.0\nfirmware-version: 16.35.2000 (MT_0000000080)\nexpansion-rom-version: \n` +
        `bus-info: ${nd.busInfo}\nsupports-statistics: yes\nsupports-test: no\nsupports-eeprom-access: no\n` +
        `supports-register-dump: no\nsupports-priv-flags: yes\n`,
      stderr: '',
      code: 0,
    };
  }
  return { stdout: '', stderr: '', code: 0, passthrough: true };
}
