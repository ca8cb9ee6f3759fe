import { copyFile, mkdir, chmod } from 'node:fs/promises';
import * as path from 'node:path';

/**
 * The two tiny images the CRI test needs besides ours, from Debian's busybox-static: a pause
 * image (CRI sandbox_image: a process that only holds the pod's namespaces) and a workload
 * image (sleep, ip, ping). Written with the project's own OCI writer (scripts/image/oci.mjs).
 */
interface OciWriter {
  writeOciArchive(o: {
    out: string;
    name: string;
    layers: string[];
    config: { Entrypoint?: string[]; Cmd?: string[]; Env?: string[]; WorkingDir?: string };
  }): Promise<{ digest: string; size: number }>;
}

const repo = path.resolve(import.meta.dirname, '../../..');
export const BUSYBOX = '/bin/busybox';
export const PAUSE_IMAGE = 'localhost/ovs-offload-test/pause:1';
export const WORKLOAD_IMAGE = 'localhost/ovs-offload-test/busybox:1';

export async function buildTestImages(dir: string): Promise<{ pause: string; workload: string }> {
  const oci = (await import(path.join(repo, 'scripts/image/oci.mjs'))) as OciWriter;
  const rootfs = path.join(dir, 'busybox-rootfs');
  await mkdir(path.join(rootfs, 'bin'), { recursive: true });
  await mkdir(path.join(rootfs, 'tmp'), { recursive: true });
  await copyFile(BUSYBOX, path.join(rootfs, 'bin/busybox'));
  await chmod(path.join(rootfs, 'bin/busybox'), 0o755);
  const pause = path.join(dir, 'pause.oci.tar');
  const workload = path.join(dir, 'busybox.oci.tar');
  const env = ['PATH=/bin'];
  // PID 1 of a pod: sleeps until the runtime kills it (SIGKILL on StopPodSandbox).
  await oci.writeOciArchive({
    out: pause,
    name: PAUSE_IMAGE,
    layers: [rootfs],
    config: { Entrypoint: ['/bin/busybox', 'sleep', '2147483647'], Env: env },
  });
  await oci.writeOciArchive({
    out: workload,
    name: WORKLOAD_IMAGE,
    layers: [rootfs],
    config: { Entrypoint: ['/bin/busybox'], Cmd: ['sleep', '3600'], Env: env, WorkingDir: '/' },
  });
  return { pause, workload };
}
