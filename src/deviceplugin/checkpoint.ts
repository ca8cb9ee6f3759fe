import * as path from 'node:path';
import { z } from 'zod';
import { errorMessage, InvalidInputError, type Files, type Logger } from '../sys/index.js';
import { DEVICE_PLUGINS_DIR } from './registration.js';

/**
 * Which devices the kubelet has given to containers, from its device manager checkpoint
 * (`<kubeletDir>/device-plugins/kubelet_internal_checkpoint`). Read at start so a plugin
 * restart does not mistake VFs sitting in running pods (no host netdev) for vanished ones.
 * The format is the kubelet's: a file we cannot read or make sense of is no evidence that the
 * pods are gone, so it is reported and the last good read stands (see KubeletCheckpoint).
 */

export const CHECKPOINT_FILE = 'kubelet_internal_checkpoint';

/** resource name → device IDs in use. */
export type InUseDevices = ReadonlyMap<string, ReadonlySet<string>>;

// DeviceIDs is a list before kubelet 1.20 and a map NUMA node → list since.
const DeviceIds = z.union([z.array(z.string()), z.record(z.string(), z.array(z.string()))]);

const CheckpointSchema = z.object({
  Data: z.object({
    PodDeviceEntries: z
      .array(z.object({ ResourceName: z.string(), DeviceIDs: DeviceIds.nullish() }))
      .nullish(),
  }),
});

/**
 * resource name → device IDs in use, parsed from the checkpoint's text. Throws
 * InvalidInputError when the text is not JSON or not the kubelet's shape.
 */
export function parseCheckpoint(text: string): Map<string, Set<string>> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(CHECKPOINT_FILE, 'not JSON', { cause: err });
  }
  const r = CheckpointSchema.safeParse(raw);
  if (!r.success) {
    throw new InvalidInputError(CHECKPOINT_FILE, `unexpected shape: ${r.error.message}`, {
      cause: r.error,
    });
  }
  const out = new Map<string, Set<string>>();
  for (const e of r.data.Data.PodDeviceEntries ?? []) {
    const ids = Array.isArray(e.DeviceIDs) ? e.DeviceIDs : Object.values(e.DeviceIDs ?? {}).flat();
    const set = out.get(e.ResourceName) ?? new Set<string>();
    for (const id of ids) set.add(id);
    out.set(e.ResourceName, set);
  }
  return out;
}

/**
 * The kubelet's checkpoint as last read. A missing file means the kubelet has allocated
 * nothing (a fresh node); an unreadable or corrupt one (a torn write, a kubelet format we do
 * not know) is logged and answered with the previous good read, since treating it as empty
 * would mark every VF inside a pod Unhealthy ("netdev vanished while not allocated").
 */
export class KubeletCheckpoint {
  readonly path: string;
  private last: InUseDevices = new Map();

  constructor(private readonly opts: { files: Files; kubeletDir: string; logger: Logger }) {
    this.path = path.join(opts.kubeletDir, DEVICE_PLUGINS_DIR, CHECKPOINT_FILE);
  }

  async read(): Promise<InUseDevices> {
    try {
      const text = await this.opts.files.readTextOrNull(this.path);
      this.last = text === null ? new Map() : parseCheckpoint(text);
    } catch (err) {
      this.opts.logger.warn(
        { path: this.path, err: errorMessage(err) },
        'device plugin: cannot use the kubelet checkpoint, keeping the allocations last read',
      );
    }
    return this.last;
  }
}
