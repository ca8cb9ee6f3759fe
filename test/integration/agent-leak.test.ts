import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentConfig, execPlugin, startAgent } from '../helpers/agent.js';
import { newNode } from '../helpers/sandbox.js';

/** Resident memory of a process, from the kernel's own accounting. */
function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/**
 * The agent's live heap after a full GC: V8 collects before it writes a heap snapshot, so the
 * snapshot's node sizes add up to what is really retained. RSS alone cannot tell a leak from
 * garbage awaiting a major GC: V8 lets its heap grow by tens of MB between collections.
 */
async function liveHeapMb(pid: number, dir: string): Promise<number> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 60_000;
  for (;;) {
    const f = readdirSync(dir).find((n) => n.endsWith('.heapsnapshot'));
    if (f) {
      try {
        const snap = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as {
          snapshot: { meta: { node_fields: string[] } };
          nodes: number[];
        };
        const fields = snap.snapshot.meta.node_fields;
        const self = fields.indexOf('self_size');
        let bytes = 0;
        for (let i = self; i < snap.nodes.length; i += fields.length) bytes += snap.nodes[i]!;
        return bytes / 1024 / 1024;
      } catch {
        // Still being written.
      }
    }
    if (Date.now() > deadline) throw new Error(`no heap snapshot of pid ${pid} in ${dir}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const CYCLES = 5;
const PODS = 8;
/**
 * A leak of what one attachment holds (request bodies, state records, monitor rows, metric
 * label sets, timelines) at even 0.25 MB per ADD adds 8 MB over cycles 2..5; what legitimately
 * grows (JIT code, V8 object shapes) measured ~0.1 MB per cycle here.
 */
const BOUND_MB = 4;

describe('agent memory over repeated bursts', () => {
  it(`${CYCLES} bursts of ${PODS} pods (ADD all, DEL all) leave the live heap within ${BOUND_MB} MB of after the first`, async () => {
    const node = await newNode({ nic: { vfsPerPf: PODS, totalVfs: 16 } });
    const heapDir = path.join(node.sb.dir, 'heap');
    // Only the agent gets the snapshot signal: NODE_OPTIONS is read when it is spawned.
    const saved = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${heapDir}`;
    const agent = await startAgent(node, agentConfig(node)).finally(() => {
      if (saved === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved;
    });
    const vfs = (await node.nic.state()).pfs[0]!.vfs;
    const pods = await Promise.all(vfs.map((_, i) => node.sb.makePod(`l${i}`)));
    const call = (i: number, cycle: number) => ({
      containerID: `leak-${cycle}-${i}`,
      netns: pods[i]!.path,
      ifName: 'net1',
      args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'leak', K8S_POD_NAME: `l${i}-${cycle}` },
      config: {
        cniVersion: '1.0.0',
        name: 'leak',
        type: 'ovs-offload-cni',
        server_socket: agent.socket,
        deviceID: vfs[i]!.pci,
      },
    });
    // As a runtime does: code 11 (try again later: a busy machine timed a step out) is
    // retried, an ADD after the DEL that cleans up its half. Any other failure fails the test.
    const asRuntime = async (command: 'ADD' | 'DEL', c: ReturnType<typeof call>) => {
      for (let attempt = 1; ; attempt++) {
        const r = await execPlugin(node, { command, ...c });
        if (r.code === 0 || r.out?.code !== 11 || attempt === 6) return r;
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
        if (command === 'ADD') await execPlugin(node, { command: 'DEL', ...c });
      }
    };
    const rss: number[] = [];
    const heap: number[] = [];
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const adds = await Promise.all(vfs.map((_, i) => asRuntime('ADD', call(i, cycle))));
      adds.forEach((r, i) => expect(r.code, `cycle ${cycle} ADD ${i}: ${r.stdout}`).toBe(0));
      const dels = await Promise.all(vfs.map((_, i) => asRuntime('DEL', call(i, cycle))));
      dels.forEach((r, i) => expect(r.code, `cycle ${cycle} DEL ${i}: ${r.stdout}`).toBe(0));
      rss.push(rssMb(agent.proc.pid));
      if (cycle === 0 || cycle === CYCLES - 1) heap.push(await liveHeapMb(agent.proc.pid, heapDir));
    }
    // Every burst really went through: nothing left attached.
    expect((await node.ovs.vsctl(['list-ports', 'br-int'])).stdout.trim()).toBe('');
    const growth = heap[1]! - heap[0]!;
    const seen = `live heap after cycle 1 and ${CYCLES} (MB): ${heap.map((x) => x.toFixed(2)).join(', ')}; RSS per cycle: ${rss.map((x) => x.toFixed(1)).join(', ')}`;
    console.log(seen);
    expect(growth, seen).toBeLessThan(BOUND_MB);
    expect(agent.log()).not.toMatch(/"level":50/);
  }, 600_000);
});
