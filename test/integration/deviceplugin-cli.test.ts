import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { packageRoot } from '../../src/sys/index.js';
import { FakeKubelet } from '../helpers/fake-kubelet.js';
import { newNode } from '../helpers/sandbox.js';

/** `ovs-offload device-plugin --config FILE`, the built executable, on the emulated NIC. */

const bin = path.join(packageRoot(), 'bin', 'ovs-offload');
const fixtures = path.join(packageRoot(), 'test', 'fixtures', 'deviceplugin');

function configJson(configMap: string): string {
  return z
    .object({ data: z.object({ 'config.json': z.string() }) })
    .parse(parseYaml(readFileSync(path.join(fixtures, configMap), 'utf8'))).data['config.json'];
}

interface Proc {
  exited: Promise<number | null>;
  stdout: () => string;
  stderr: () => string;
  kill: (sig: NodeJS.Signals) => void;
}

function start(args: string[], env: Record<string, string>): Proc {
  const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: 'pipe' });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  return {
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    stdout: () => out,
    stderr: () => err,
    kill: (sig) => child.kill(sig),
  };
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(t);
  }
}

describe('ovs-offload device-plugin', () => {
  it('serves seed 004’s ConfigMap on a metaScale NIC, then stops cleanly on SIGTERM (exit 0)', async () => {
    const { sb, nic } = await newNode({ nic: { identity: 'metascale', vfsPerPf: 3 } });
    const kubeletDir = path.join(sb.dir, 'kubelet');
    const kubelet = await FakeKubelet.start({ kubeletDir, mode: 'watcher' });
    const dpConfig = path.join(sb.dir, 'config.json');
    writeFileSync(dpConfig, configJson('seed-004-metascale-configmap.yaml'));
    const agentConfig = path.join(sb.dir, 'agent.yaml');
    writeFileSync(
      agentConfig,
      [
        `sysfsRoot: ${nic.sysfsRoot}`,
        'devicePlugin:',
        `  configFile: ${dpConfig}`,
        `  kubeletDir: ${kubeletDir}`,
        `  devinfoDir: ${path.join(sb.dir, 'devinfo')}`,
        // Only sysfsRoot and devicePlugin are used: the rest of an agent config may be there.
        'ovs:',
        '  bridge: br-int',
        '',
      ].join('\n'),
    );
    const p = start(['device-plugin', '--config', agentConfig], { PATH: nic.path });
    try {
      await kubelet.waitForRegistration('yunsilicon.com/xsc_sriov', 0, 20_000);
      const vfs = (await nic.state()).pfs[0]!.vfs.map((v) => v.pci);
      const list = await kubelet
        .plugin('yunsilicon.com/xsc_sriov')
        .listAndWatch()
        .waitFor((d) => d.length === 3);
      expect(list.devices.map((d) => [d.ID, d.health])).toEqual(vfs.map((v) => [v, 'Healthy']));
      p.kill('SIGTERM');
      expect(await withTimeout(p.exited, 10_000, 'exit after SIGTERM')).toBe(0);
    } finally {
      p.kill('SIGKILL');
      await kubelet.stop();
    }
    expect(p.stdout()).toBe('');
    const logs = p
      .stderr()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg?: string });
    expect(logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['device plugin started', 'device plugin stopped']),
    );
    expect(readdirSync(path.join(kubeletDir, 'device-plugins'))).toEqual([]);
    expect(readdirSync(path.join(kubeletDir, 'plugins_registry'))).toEqual([]);
  });

  it('seed 000’s single-object resourceList: runs, and says how to fix the config', async () => {
    const { sb, nic } = await newNode({ nic: { identity: 'mlx5', vfsPerPf: 1 } });
    const kubeletDir = path.join(sb.dir, 'kubelet');
    const kubelet = await FakeKubelet.start({ kubeletDir, mode: 'register' });
    const dpConfig = path.join(sb.dir, 'config.json');
    writeFileSync(dpConfig, configJson('seed-000-eks-configmap.yaml'));
    const agentConfig = path.join(sb.dir, 'agent.json');
    writeFileSync(
      agentConfig,
      JSON.stringify({
        sysfsRoot: nic.sysfsRoot,
        devicePlugin: { configFile: dpConfig, kubeletDir, devinfoDir: path.join(sb.dir, 'di') },
      }),
    );
    const p = start(['device-plugin', '--config', agentConfig], { PATH: nic.path });
    try {
      await kubelet.waitForRegistration('intel.com/sriov_dpdk_n3', 0, 20_000);
      // ENA VFs on an EKS node; none here: an empty, registered pool.
      const list = await kubelet
        .plugin('intel.com/sriov_dpdk_n3')
        .listAndWatch()
        .waitFor(() => true);
      expect(list.devices).toEqual([]);
      p.kill('SIGINT');
      expect(await withTimeout(p.exited, 10_000, 'exit after SIGINT')).toBe(0);
    } finally {
      p.kill('SIGKILL');
      await kubelet.stop();
    }
    expect(p.stderr()).toMatch(/resourceList is a single object.*\\"resourceList\\": \[/);
    expect(
      existsSync(path.join(kubeletDir, 'device-plugins', 'intel.com_sriov_dpdk_n3.sock')),
    ).toBe(false);
  });

  it.each([
    ['no devicePlugin section', (dir: string) => `sysfsRoot: ${dir}\n`, /devicePlugin: missing/],
    [
      'an invalid pool',
      (dir: string) =>
        `sysfsRoot: ${dir}\ndevicePlugin:\n  resourceList:\n    - resourceName: a\n      selectors: {pfNames: ["eth0#2-1"]}\n`,
      /devicePlugin\.resourceList\[0\]\.selectors\.pfNames\[0\]: "eth0#2-1" has a reversed range/,
    ],
  ])('%s: exit 2 naming the problem', async (_n, body, re) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'oo-dp-cli-'));
    try {
      const cfg = path.join(dir, 'agent.yaml');
      writeFileSync(cfg, body(dir));
      const p = start(['device-plugin', '--config', cfg], {});
      expect(await withTimeout(p.exited, 10_000, 'exit')).toBe(2);
      expect(p.stderr()).toMatch(re);
      expect(p.stdout()).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
