import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { connect } from 'node:net';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Agent, START_STEPS } from '../../src/agent/agent.js';
import { parseAgentConfig } from '../../src/agent/config.js';
import { createLogger, ExecaRunner } from '../../src/sys/index.js';
import { agentConfig } from '../helpers/agent.js';
import { newNode, type Node } from '../helpers/sandbox.js';

/**
 * SIGTERM at every start-up checkpoint: the agent runs in this process (so the test holds
 * start-up exactly before each step), on a real sandbox OVSDB and emulated NIC, with every
 * part on: device plugin, CNI server, metrics listener. Whatever step the signal lands
 * before, start-up stops, closes what it opened, and nothing is left listening.
 */

function canConnect(opts: { path: string } | { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(opts as never);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function config(node: Node, port: number) {
  const dir = path.join(node.sb.dir, `dp-${port}`);
  await mkdir(path.join(dir, 'kubelet', 'device-plugins'), { recursive: true });
  return parseAgentConfig({
    ...agentConfig(node),
    nics: [],
    metrics: { listen: `127.0.0.1:${port}` },
    devicePlugin: {
      resourceList: [{ resourceName: 'vfs', selectors: { vendors: ['15b3'] } }],
      kubeletDir: path.join(dir, 'kubelet'),
      devinfoDir: path.join(dir, 'devinfo'),
    },
  });
}

describe('agent start-up in steps', () => {
  it('a signal before any step stops start-up with nothing listening; without one every part serves', async () => {
    const node = await newNode({ nic: { vfsPerPf: 2 } });
    const runner = new ExecaRunner({ ...process.env, PATH: node.nic.path, ...node.ovs.env });
    const logger = createLogger('test', 'silent');
    let port = 19_600 + Math.floor(Math.random() * 300);
    for (const step of START_STEPS) {
      port++;
      const cfg = await config(node, port);
      const ctl = new AbortController();
      const seen: string[] = [];
      const err = await Agent.start(cfg, {
        logger,
        runner,
        signal: ctl.signal,
        beforeStep: async (name) => {
          seen.push(name);
          if (name === step) ctl.abort(new Error(`SIGTERM before ${step}`));
        },
      }).then(
        async (a) => {
          await a.stop();
          return null;
        },
        (e: unknown) => e,
      );
      expect(String(err), step).toContain(`SIGTERM before ${step}`);
      expect(seen.at(-1), step).toBe(step);
      expect(existsSync(cfg.cni.socket), `${step}: CNI socket file`).toBe(false);
      expect(await canConnect({ host: '127.0.0.1', port }), `${step}: metrics listener`).toBe(
        false,
      );
      const dpSocks = path.join(cfg.devicePlugin!.kubeletDir, 'device-plugins');
      const socks = (await readdir(dpSocks)).filter((x) => x.endsWith('.sock'));
      expect(socks, `${step}: device plugin sockets`).toEqual([]);
    }
    port++;
    const cfg = await config(node, port);
    // The pod watch ('pod-watch') with a source that only counts its watches.
    const watches = { started: 0, aborted: 0 };
    const podWatch = {
      list: async () => ({ resourceVersion: '1', pods: [] }),
      watch: async (_rv: string, h: { done(err: unknown): void }) => {
        watches.started++;
        return {
          abort: () => {
            watches.aborted++;
            h.done(new Error('aborted'));
          },
        };
      },
    };
    const agent = await Agent.start(cfg, { logger, runner, podWatch });
    expect(await canConnect({ path: cfg.cni.socket })).toBe(true);
    expect(await canConnect({ host: '127.0.0.1', port })).toBe(true);
    const status = await agent.status();
    expect(status.node).toBe(cfg.nodeName);
    expect(watches.started).toBe(1);
    await agent.stop();
    expect(watches.aborted).toBe(1);
    expect(await canConnect({ path: cfg.cni.socket })).toBe(false);
    expect(await canConnect({ host: '127.0.0.1', port })).toBe(false);
  });
});
