import { spawnSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentConfig, execPlugin, startAgent } from '../helpers/agent.js';
import { newNode } from '../helpers/sandbox.js';

const args = { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'bad' };

describe('bad input changes nothing', () => {
  it('answers bad network configs with the right code and a message naming the field', async () => {
    const node = await newNode({ nic: { vfsPerPf: 2 } });
    const agent = await startAgent(node, agentConfig(node));
    const before = JSON.stringify(await node.nic.state());
    const pod = await node.sb.makePod('bad');
    const base = {
      cniVersion: '1.0.0',
      name: 'n',
      type: 'ovs-offload-cni',
      server_socket: agent.socket,
    };
    const cases: [string, Record<string, unknown> | string, number, RegExp][] = [
      [
        'missing server_socket',
        { cniVersion: '1.0.0', name: 'n', type: 'ovs-offload-cni', deviceID: '0000:03:00.2' },
        7,
        /server_socket: required/,
      ],
      [
        'deviceID that is the PF',
        { ...base, deviceID: '0000:03:00.0' },
        7,
        /deviceID: 0000:03:00\.0 is not a VF/,
      ],
      [
        'deviceID that does not exist',
        { ...base, deviceID: '0000:42:00.1' },
        7,
        /0000:42:00\.1: no such PCI device/,
      ],
      ['deviceID missing', { ...base }, 7, /deviceID: required/],
      [
        'bad vlan',
        { ...base, deviceID: '0000:03:00.2', vlan: 5000 },
        7,
        /vlan: must be an integer in 0\.\.4094/,
      ],
      [
        'unknown mode',
        { ...base, deviceID: '0000:03:00.2', mode: 'turbo' },
        7,
        /mode: must be one of/,
      ],
      ['malformed JSON', '{"cniVersion": "1.0.0", "name": ', 6, /decode network config/],
    ];
    for (const [what, config, code, re] of cases) {
      const r = await execPlugin(node, {
        command: 'ADD',
        containerID: 'c-bad',
        netns: pod.path,
        ifName: 'net1',
        args,
        ...(typeof config === 'string' ? { config: {}, stdin: config } : { config }),
      });
      expect(r.code, what).toBe(1);
      expect(r.out, what).toMatchObject({ code });
      expect((r.out as { msg: string }).msg, what).toMatch(re);
    }
    expect(JSON.stringify(await node.nic.state())).toBe(before);
    expect((await node.ovs.vsctl(['list-ports', 'br-int'])).stdout.trim()).toBe('');
    expect(await readdir(agent.stateDir)).toEqual([]);
    expect(
      (await node.sb.ip.run({ name: pod.netns }, ['-o', 'link', 'show'])).stdout,
    ).not.toContain('net1');
  });

  it('refuses a bad agent config with exit 2 and the path of the error, touching nothing', async () => {
    const node = await newNode({ nic: { vfsPerPf: 1 } });
    const file = path.join(node.sb.dir, 'bad.yaml');
    await writeFile(
      file,
      `ovs:\n  db: unix:${node.ovs.dbSock}\nnics:\n  - pci: "0000:03:00.0"\n  - pf: eth0\n    numVfs: -1\n`,
    );
    const r = spawnSync(path.resolve('bin/ovs-offload'), ['agent', '--config', file], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/nics\[1\]\.numVfs/);
    await writeFile(file, 'ovs: {bridge: br-int, bogus: 1}\n');
    const r2 = spawnSync(path.resolve('bin/ovs-offload'), ['agent', '--config', file], {
      encoding: 'utf8',
    });
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/ovs: Unrecognized key: "bogus"/);
    expect((await node.ovs.vsctl(['list-br'])).stdout.trim()).toBe('br-int');
  });
});
