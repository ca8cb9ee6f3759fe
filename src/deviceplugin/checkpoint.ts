import * as path from 'node:path';
import { z } from 'zod';
import type { Files } from '../sys/index.js';
import { DEVICE_PLUGINS_DIR } from './registration.js';

/**
 * Which devices the kubelet has given to containers, from its device manager checkpoint
 * (`<kubeletDir>/device-plugins/kubelet_internal_checkpoint`). Read once at start so a plugin
 * restart does not mistake VFs sitting in running pods (no host netdev) for vanished ones.
 * Best effort: the format is the kubelet's, so anything unexpected means "nothing known".
 */

export const CHECKPOINT_FILE = 'kubelet_internal_checkpoint';

// DeviceIDs is a list before kubelet 1.20 and a map NUMA node → list since.
const DeviceIds = z.union([z.array(z.string()), z.record(z.string(), z.array(z.string()))]);

const CheckpointSchema = z.object({
  Data: z.object({
    PodDeviceEntries: z
      .array(z.object({ ResourceName: z.string(), DeviceIDs: DeviceIds.nullish() }))
      .nullish(),
  }),
});

/** resource name → device IDs in use, parsed from the checkpoint's text. */
export function parseCheckpoint(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return out;
  }
  const r = CheckpointSchema.safeParse(raw);
  if (!r.success) return out;
  for (const e of r.data.Data.PodDeviceEntries ?? []) {
    const ids = Array.isArray(e.DeviceIDs) ? e.DeviceIDs : Object.values(e.DeviceIDs ?? {}).flat();
    const set = out.get(e.ResourceName) ?? new Set<string>();
    for (const id of ids) set.add(id);
    out.set(e.ResourceName, set);
  }
  return out;
}

export async function readCheckpoint(
  files: Files,
  kubeletDir: string,
): Promise<Map<string, Set<string>>> {
  const text = await files
    .readTextOrNull(path.join(kubeletDir, DEVICE_PLUGINS_DIR, CHECKPOINT_FILE))
    .catch(() => null);
  return text === null ? new Map() : parseCheckpoint(text);
}
