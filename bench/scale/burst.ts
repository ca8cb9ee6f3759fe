import { spawn } from 'node:child_process';

/** One CNI call as a container runtime makes it (env + stdin), in the node's host netns. */
export interface CniCall {
  bin: string;
  env: Record<string, string>;
  config: unknown;
}

export interface CallOutcome {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one plugin process under `nsenter --net=<netnsPath>`, resolving with its wall time. */
export function runCni(netnsPath: string, call: CniCall): Promise<CallOutcome> {
  const t = process.hrtime.bigint();
  return new Promise((resolve) => {
    const p = spawn('nsenter', [`--net=${netnsPath}`, call.bin], {
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...call.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (code) =>
      resolve({ ms: Number(process.hrtime.bigint() - t) / 1e6, code: code ?? -1, stdout, stderr }),
    );
    p.stdin.end(JSON.stringify(call.config));
  });
}

export interface Burst {
  wallMs: number;
  ms: number[];
  /** Calls repeated after a code 11 ("try again later"), as a runtime repeats them. */
  retries: number;
}

const TRANSIENT = /"code":\s*11\b/;

/**
 * All calls at once, as a runtime starting (or stopping) N pods does. A call answered with
 * code 11 is repeated, up to `maxRetries` times, as kubelet repeats it; its time runs from
 * the first attempt to the last. Any other failure fails the bench.
 */
export async function burst(
  netnsPath: string,
  calls: readonly CniCall[],
  maxRetries = 0,
): Promise<Burst> {
  const t = process.hrtime.bigint();
  let retries = 0;
  const out = await Promise.all(
    calls.map(async (c) => {
      const t0 = process.hrtime.bigint();
      let o = await runCni(netnsPath, c);
      for (let i = 0; i < maxRetries && o.code !== 0 && TRANSIENT.test(o.stdout); i++) {
        retries++;
        o = await runCni(netnsPath, c);
      }
      return { ...o, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
    }),
  );
  const wallMs = Number(process.hrtime.bigint() - t) / 1e6;
  const bad = out.findIndex((o) => o.code !== 0);
  if (bad >= 0) {
    const o = out[bad]!;
    throw new Error(
      `${calls[bad]!.env.CNI_COMMAND} #${bad} exited ${o.code}: ${o.stdout.trim()} ${o.stderr.trim()}`,
    );
  }
  return { wallMs, ms: out.map((o) => o.ms), retries };
}

/** One call after another: the latency a lone pod sees. */
export async function sequential(netnsPath: string, calls: readonly CniCall[]): Promise<number[]> {
  const ms: number[] = [];
  for (const c of calls) {
    const o = await runCni(netnsPath, c);
    if (o.code !== 0)
      throw new Error(
        `${c.env.CNI_COMMAND} exited ${o.code}: ${o.stdout.trim()} ${o.stderr.trim()}`,
      );
    ms.push(o.ms);
  }
  return ms;
}
