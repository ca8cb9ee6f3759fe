import { InvalidInputError } from '../../sys/index.js';
import { attachmentKey } from './keys.js';

/**
 * The attachments a CNI GC says are still valid. CNI 1.1.0 names the list
 * `cni.dev/attachments`; libcni 1.2.0-1.2.2 send only `cni.dev/valid-attachments`, 1.2.3+
 * both. `null` is an empty list. Anything else (a string, an object, a missing key,
 * entries without containerID/ifname, or the two keys disagreeing) is refused: GC removes
 * everything not listed, so a list we misread would tear down every pod of the network.
 */
export function validAttachments(config: Record<string, unknown>): Set<string> {
  const keys = ['cni.dev/attachments', 'cni.dev/valid-attachments'] as const;
  const present = keys.filter((k) => k in config);
  if (present.length === 0) {
    throw new InvalidInputError('GC', `the config lists no ${keys.join(' or ')}`);
  }
  const lists = present.map((k) => parseList(k, config[k]));
  const [first, second] = lists;
  if (first && second) {
    const same = first.size === second.size && [...first].every((a) => second.has(a));
    if (!same) throw new InvalidInputError('GC', `${keys[0]} and ${keys[1]} disagree`);
  }
  return first ?? new Set();
}

function parseList(key: string, raw: unknown): Set<string> {
  if (raw === null) return new Set();
  if (!Array.isArray(raw)) {
    throw new InvalidInputError(key, `must be a list of {containerID, ifname}, got ${typeof raw}`);
  }
  const out = new Set<string>();
  raw.forEach((a: unknown, i) => {
    const o = typeof a === 'object' && a !== null ? (a as Record<string, unknown>) : {};
    if (typeof o.containerID !== 'string' || typeof o.ifname !== 'string') {
      throw new InvalidInputError(`${key}[${i}]`, 'needs string containerID and ifname');
    }
    out.add(attachmentKey(o.containerID, o.ifname));
  });
  return out;
}
