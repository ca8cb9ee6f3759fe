import * as os from 'node:os';

/** Whether the running kernel is at least `major.minor` (from uname's release string). */
export function kernelAtLeast(major: number, minor: number, release = os.release()): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return true;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}
