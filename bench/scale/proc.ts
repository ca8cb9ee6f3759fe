import { readFileSync } from 'node:fs';

/**
 * What /proc says about a process: resident memory (VmRSS) and CPU time (utime + stime from
 * /proc/<pid>/stat, in clock ticks of 1/100 s on Linux).
 */
const TICKS_PER_S = 100;

export function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/** utime, stime, cutime and cstime of /proc/<pid>/stat, in seconds. */
function cpuTimes(pid: number | 'self'): { user: number; sys: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // comm (field 2) may hold spaces and parentheses: count fields after its closing one.
  // rest[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  const f = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map((x) => Number(x) / TICKS_PER_S);
  return { user: f[11]!, sys: f[12]!, children: f[13]! + f[14]! };
}

/** CPU seconds the process has used so far (user + system). */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.sys;
}

/** CPU seconds the process has spent in the kernel (stime): fork's page-table copies land here. */
export function sysCpuSeconds(pid: number): number {
  return cpuTimes(pid).sys;
}

/**
 * CPU seconds of the process's children that it has waited for (cutime + cstime): for the
 * agent, the `ip`/IPAM/ethtool processes it ran; for this bench, the plugin processes.
 */
export function childCpuSeconds(pid: number | 'self'): number {
  return cpuTimes(pid).children;
}

/** The agent's CPU use over a window, as a percentage of one CPU. */
export async function idleCpuPercent(pid: number, windowMs: number): Promise<number> {
  const c0 = cpuSeconds(pid);
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, windowMs));
  return ((cpuSeconds(pid) - c0) / ((Date.now() - t0) / 1000)) * 100;
}
