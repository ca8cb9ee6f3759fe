import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gcIpam } from '../../../src/agent/ipam.js';
import { ExecaRunner } from '../../../src/sys/index.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** A fake IPAM plugin that answers VERSION with `versions` and logs every other command. */
async function plugin(versions: string[]): Promise<{ dir: string; log: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipam-gc-'));
  dirs.push(dir);
  const log = path.join(dir, 'calls.log');
  await writeFile(
    path.join(dir, 'fake-ipam'),
    `#!/bin/sh
if [ "$CNI_COMMAND" = VERSION ]; then echo '{"cniVersion":"1.0.0","supportedVersions":${JSON.stringify(versions)}}'; exit 0; fi
echo "$CNI_COMMAND $(cat)" >> ${log}
`,
  );
  await chmod(path.join(dir, 'fake-ipam'), 0o755);
  return { dir, log };
}

const config = (list: unknown) => ({
  cniVersion: '1.1.0',
  name: 'n',
  type: 'ovs-offload-cni',
  ipam: { type: 'fake-ipam' },
  'cni.dev/attachments': list,
});

describe('IPAM GC forwarding', () => {
  it('forwards GC with the valid attachments to a plugin that speaks 1.1.0', async () => {
    const p = await plugin(['1.0.0', '1.1.0']);
    const list = [{ containerID: 'c1', ifname: 'net1' }];
    expect(await gcIpam(new ExecaRunner(), config(list), p.dir)).toBe(true);
    const [line] = (await readFile(p.log, 'utf8')).trim().split('\n');
    expect(line?.startsWith('GC ')).toBe(true);
    expect(JSON.parse(line!.slice(3))).toMatchObject({ 'cni.dev/attachments': list });
  });

  it('never sends GC to a plugin whose VERSION stops before 1.1.0 (bookworm host-local)', async () => {
    const p = await plugin(['0.3.1', '0.4.0', '1.0.0']);
    expect(await gcIpam(new ExecaRunner(), config([]), p.dir)).toBe(false);
    await expect(readFile(p.log, 'utf8')).rejects.toThrow();
  });

  it('nothing to do without ipam, or with a plugin that is not there', async () => {
    expect(
      await gcIpam(new ExecaRunner(), { cniVersion: '1.1.0', name: 'n' }, '/nonexistent'),
    ).toBe(false);
    expect(await gcIpam(new ExecaRunner(), config([]), '/nonexistent')).toBe(false);
  });
});
