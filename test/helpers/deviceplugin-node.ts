import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach } from 'vitest';
import { parseResourceList } from '../../src/deviceplugin/config.js';
import { DevicePluginManager } from '../../src/deviceplugin/manager.js';
import type { EmulatedNic, EmulateNicOptions } from '../../src/sandbox/index.js';
import { ExecaRunner, SysFs } from '../../src/sys/index.js';
import { FakeKubelet, type KubeletMode } from './fake-kubelet.js';
import { newNode, type Node } from './sandbox.js';

/**
 * The device plugin on an emulated node: the NIC's sysfs tree, devlink stand-ins first on
 * PATH, a fake kubelet in the sandbox dir. Stopped after each test (the sandbox itself is
 * destroyed after the file, by helpers/sandbox.ts).
 */

const running: { manager: DevicePluginManager; kubelet: FakeKubelet }[] = [];

afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.manager.stop();
    await r.kubelet.stop();
  }
});

export interface PluginNode extends Node {
  manager: DevicePluginManager;
  kubelet: FakeKubelet;
  devinfoDir: string;
  /** `ip link set <name> up|down` in the sandbox host netns. */
  link(name: string, state: 'up' | 'down'): Promise<void>;
  /** Writes a sysfs attribute of the emulated tree (`bus/pci/devices/<pf>/sriov_numvfs`). */
  writeSys(rel: string, value: string): Promise<void>;
}

export async function pluginNode(opts: {
  nic: EmulateNicOptions;
  /** The pools; a function when they name the sandbox's netdevs. */
  resourceList: unknown[] | ((nic: EmulatedNic) => unknown[]);
  mode?: KubeletMode;
  pollIntervalMs?: number;
}): Promise<PluginNode> {
  const node = await newNode({ nic: opts.nic });
  const kubeletDir = path.join(node.sb.dir, 'kubelet');
  const devinfoDir = path.join(node.sb.dir, 'devinfo');
  const kubelet = await FakeKubelet.start({ kubeletDir, mode: opts.mode ?? 'register' });
  const manager = new DevicePluginManager({
    resources: parseResourceList(
      typeof opts.resourceList === 'function' ? opts.resourceList(node.nic) : opts.resourceList,
    ).resources,
    kubeletDir,
    devinfoDir,
    sysfs: new SysFs(node.nic.sysfsRoot),
    runner: new ExecaRunner({ PATH: node.nic.path }),
    ...(opts.pollIntervalMs === undefined ? {} : { pollIntervalMs: opts.pollIntervalMs }),
  });
  running.push({ manager, kubelet });
  await manager.start();
  return {
    ...node,
    manager,
    kubelet,
    devinfoDir,
    link: async (name, state) => {
      await node.sb.ip.run({ name: node.sb.hostNetns }, ['link', 'set', name, state]);
    },
    writeSys: (rel, value) => writeFile(path.join(node.nic.sysfsRoot, 'sys', rel), value),
  };
}
