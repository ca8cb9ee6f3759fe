import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { kubeletApis } from '../../../src/deviceplugin/proto.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const COMMITTED = path.join(ROOT, 'src/deviceplugin/generated');

function tree(dir: string): Map<string, string> {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
  return new Map(files.map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]));
}

describe('generated proto types', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'ovs-offload-gen-proto-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('are what `npm run gen:proto` makes from proto/ now (run it after changing a .proto)', () => {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts/gen-proto.mjs'), out], {
      cwd: ROOT,
      stdio: 'pipe',
    });
    const fresh = tree(out);
    const committed = tree(COMMITTED);
    expect([...committed.keys()]).toEqual([...fresh.keys()]);
    for (const [f, text] of fresh) expect(committed.get(f), f).toBe(text);
  });

  it('name the services and methods that the loaded .proto files define', () => {
    const apis = kubeletApis();
    expect(Object.keys(apis.devicePlugin.service).sort()).toEqual([
      'Allocate',
      'GetDevicePluginOptions',
      'GetPreferredAllocation',
      'ListAndWatch',
      'PreStartContainer',
    ]);
    expect(apis.devicePlugin.ListAndWatch.path).toBe('/v1beta1.DevicePlugin/ListAndWatch');
    expect(apis.devicePlugin.ListAndWatch.responseStream).toBe(true);
    expect(apis.registration.Register.path).toBe('/v1beta1.Registration/Register');
    expect(apis.pluginRegistration.GetInfo.path).toBe('/pluginregistration.Registration/GetInfo');
    expect(apis.pluginRegistration.NotifyRegistrationStatus.path).toBe(
      '/pluginregistration.Registration/NotifyRegistrationStatus',
    );
  });
});
