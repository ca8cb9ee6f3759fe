import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PluginCode, toCniError } from '../../../src/agent/cni-errors.js';
import { parseAttachRequest, validIfName } from '../../../src/agent/attach/request.js';
import type { AgentRequest } from '../../../src/cni/types.js';

const base: AgentRequest = {
  containerID: 'c1',
  netns: '/run/netns/pod1',
  ifName: 'net1',
  args: { IgnoreUnknown: '1', K8S_POD_NAME: 'p', K8S_POD_NAMESPACE: 'default' },
  path: '/opt/cni/bin',
  config: {
    cniVersion: '1.0.0',
    name: 'n',
    type: 'ovs-offload-cni',
    server_socket: '/run/ovs-offload/cni.sock',
    deviceID: '0000:03:00.2',
  },
};

/** Codes the agent may answer a request with (docs/cni.md). */
const DOCUMENTED = new Set([
  1,
  2,
  4,
  6,
  7,
  11,
  50,
  PluginCode.CheckMismatch,
  PluginCode.HostFailure,
]);

describe('agent request parsing', () => {
  it.each([
    ['eth0', true],
    ['net1', true],
    ['a'.repeat(15), true],
    ['a'.repeat(16), false],
    ['', false],
    ['.', false],
    ['..', false],
    ['a/b', false],
    ['a:b', false],
    ['a b', false],
    ['a\tb', false],
    ['é'.repeat(8), false], // 16 bytes
  ])('ifName %j valid: %s', (name, ok) => {
    expect(validIfName(name)).toBe(ok);
  });

  it('accepts a 1,024-byte container ID', () => {
    expect(
      parseAttachRequest({ ...base, containerID: 'f'.repeat(1024) }, 'add').containerID,
    ).toHaveLength(1024);
  });

  it.each([
    ['containerID with a slash', { containerID: 'a/b' }, 4],
    ['empty containerID', { containerID: '' }, 4],
    ['ifName too long', { ifName: 'x'.repeat(16) }, 4],
    ['relative netns', { netns: 'pod1' }, 4],
    ['netns with NUL', { netns: '/run/netns/a\0b' }, 4],
    [
      'no pod identity with a provider',
      { args: {}, config: { ...base.config, provider: 'ovn' } },
      4,
    ],
    ['a pod name without its namespace', { args: { K8S_POD_NAME: 'p' } }, 4],
    ['unknown cniVersion', { config: { ...base.config, cniVersion: '9.9.9' } }, 1],
    ['bad mtu', { config: { ...base.config, mtu: 'big' } }, 7],
  ] as const)('%s → code %i', (_n, patch, code) => {
    const req = { ...base, ...patch } as AgentRequest;
    let thrown: unknown = null;
    try {
      parseAttachRequest(req, 'add');
    } catch (e) {
      thrown = e;
    }
    expect(toCniError(thrown).code).toBe(code);
  });

  it('random CNI_* values and configs: never a crash, always a documented code', () => {
    const str = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.constantFrom('', '.', '..', '/', 'eth0'),
    );
    const json = fc.jsonValue();
    fc.assert(
      fc.property(
        str,
        str,
        str,
        fc.dictionary(fc.string(), fc.string()),
        fc.oneof(
          json,
          fc.record({
            cniVersion: fc.oneof(json, fc.constantFrom('0.3.1', '1.0.0', '1.1.0')),
            name: json,
            type: json,
            deviceID: json,
            mtu: json,
            vlan: json,
            ipam: json,
            provider: json,
          }),
        ),
        fc.constantFrom<'add' | 'del' | 'check'>('add', 'del', 'check'),
        (containerID, netns, ifName, args, config, op) => {
          const req = {
            containerID,
            netns,
            ifName,
            args,
            path: '/opt/cni/bin',
            config: (typeof config === 'object' && config !== null && !Array.isArray(config)
              ? config
              : { v: config }) as Record<string, unknown>,
          };
          try {
            parseAttachRequest(req, op);
          } catch (e) {
            const c = toCniError(e);
            expect(DOCUMENTED.has(c.code), `${c.code}: ${c.message}`).toBe(true);
            expect(c.code).not.toBe(PluginCode.HostFailure);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
