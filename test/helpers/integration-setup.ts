import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Integration tests drive real daemons and netns: they need root and the Debian packages
 * that scripts/setup.sh installs. Missing prerequisites fail the run loudly (never a skip).
 */
export default function setup(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'integration tests need root (netns, veth, sysfs mounts): run `sudo bash scripts/test.sh`',
    );
  }
  const needed = [
    'ovsdb-server',
    'ovs-vswitchd',
    'ovn-northd',
    'ovn-controller',
    'nsenter',
    'ip',
    'iperf3',
    'ping',
  ];
  const missing = needed.filter((b) => {
    try {
      execFileSync('sh', ['-c', `command -v ${b}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (!existsSync('/usr/lib/cni/host-local')) missing.push('containernetworking-plugins');
  if (missing.length > 0) {
    throw new Error(
      `integration prerequisites missing: ${missing.join(', ')} (run bash scripts/setup.sh)`,
    );
  }
  // The executables and the sandbox NIC daemon run from dist/: always test what was just built.
  execFileSync(process.execPath, ['scripts/build.mjs', '--quiet'], { stdio: 'inherit' });
}
