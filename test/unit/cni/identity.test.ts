import { describe, expect, it } from 'vitest';
import { parseAttachRequest } from '../../../src/agent/attach/request.js';
import { containerIfaceId } from '../../../src/agent/attach/keys.js';
import { toCniError } from '../../../src/agent/cni-errors.js';
import { podIdentityOf } from '../../../src/cni/env.js';
import { runCni, type CniDeps } from '../../../src/cni/run.js';
import type { AgentRequest, CniOp } from '../../../src/cni/types.js';

/**
 * ADD without a Kubernetes identity (`ctr run --cni` and other libcni clients outside
 * Kubernetes send no CNI_ARGS): served when nothing needs a pod, refused (code 4) when the
 * config's Kube-OVN provider does, and half an identity is always refused.
 */

const conf = (patch: Record<string, unknown> = {}) =>
  JSON.stringify({
    cniVersion: '1.0.0',
    name: 'sriov',
    type: 'ovs-offload-cni',
    server_socket: '/run/ovs-offload/cni.sock',
    deviceID: '0000:03:00.2',
    ipam: { type: 'host-local', subnet: '10.9.0.0/24' },
    ...patch,
  });

const CID = '4f1c0a7e9b2d4c6e8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f';

const env = (cmd: string, args?: string) => ({
  CNI_COMMAND: cmd,
  CNI_CONTAINERID: CID,
  CNI_NETNS: '/proc/4242/ns/net',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin',
  ...(args === undefined ? {} : { CNI_ARGS: args }),
});

function recording(): { deps: CniDeps; calls: { op: CniOp; body: AgentRequest }[] } {
  const calls: { op: CniOp; body: AgentRequest }[] = [];
  return {
    calls,
    deps: {
      callAgent(_socket, op, body) {
        calls.push({ op, body });
        return Promise.resolve(
          op === 'add' ? { cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }] } : null,
        );
      },
    },
  };
}

describe('front end: ADD without a pod identity', () => {
  it('forwards ADD with no CNI_ARGS at all when the config has no provider', async () => {
    const r = recording();
    const out = await runCni(env('ADD'), conf(), r.deps);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ interfaces: [{ name: 'eth0' }] });
    expect(r.calls).toHaveLength(1);
    expect(r.calls[0]!.body.args).toEqual({});
  });

  it.each([
    ['no identity with a provider', undefined, { provider: 'ovn' }, /provider "ovn"/],
    ['a pod name without its namespace', 'K8S_POD_NAME=web-0', {}, /K8S_POD_NAMESPACE is required/],
    ['a namespace without its pod', 'K8S_POD_NAMESPACE=default', {}, /K8S_POD_NAME is required/],
    ['only a pod UID', 'IgnoreUnknown=1;K8S_POD_UID=u-1', {}, /are required with K8S_POD_UID/],
    ['an empty pod name', 'K8S_POD_NAME=;K8S_POD_NAMESPACE=default', {}, /K8S_POD_NAME is empty/],
    ['malformed CNI_ARGS', 'K8S_POD_NAME', {}, /invalid pair/],
    ['an unknown arg', 'FOO=bar', {}, /unknown args/],
  ])('refuses %s with code 4 and calls nobody', async (_what, args, patch, re) => {
    const r = recording();
    const out = await runCni(env('ADD', args), conf(patch), r.deps);
    expect(out.code).toBe(1);
    const err = JSON.parse(out.stdout) as { code: number; msg: string };
    expect(err.code).toBe(4);
    expect(err.msg).toMatch(re);
    expect(r.calls).toHaveLength(0);
  });

  it('still serves a full identity with a provider', async () => {
    const r = recording();
    const out = await runCni(
      env('ADD', 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0'),
      conf({ provider: 'ovn', ipam: undefined }),
      r.deps,
    );
    expect(out.code).toBe(0);
    expect(r.calls).toHaveLength(1);
  });

  it.each(['DEL', 'CHECK'])('%s without identity reaches the agent', async (cmd) => {
    const r = recording();
    const out = await runCni(
      env(cmd),
      conf({ prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }] } }),
      r.deps,
    );
    expect(out.code).toBe(0);
    expect(r.calls.map((c) => c.op)).toEqual([cmd.toLowerCase()]);
  });

  it('podIdentityOf: none, full, and the UID kept', () => {
    expect(podIdentityOf({})).toBeNull();
    expect(podIdentityOf({ IgnoreUnknown: '1', IP: '10.0.0.5' })).toBeNull();
    expect(podIdentityOf({ K8S_POD_NAME: 'a', K8S_POD_NAMESPACE: 'b', K8S_POD_UID: 'u' })).toEqual({
      name: 'a',
      namespace: 'b',
      uid: 'u',
    });
  });
});

describe('agent: the iface-id of an attachment without a pod', () => {
  const base: AgentRequest = {
    containerID: CID,
    netns: '/proc/4242/ns/net',
    ifName: 'eth0',
    args: {},
    path: '/opt/cni/bin',
    config: JSON.parse(conf()) as Record<string, unknown>,
  };

  it('is <containerID>/<ifName>, the same for ADD, CHECK and DEL', () => {
    const ids = (['add', 'check', 'del'] as const).map(
      (op) => parseAttachRequest(base, op).ifaceId,
    );
    expect(ids).toEqual([`${CID}/eth0`, `${CID}/eth0`, `${CID}/eth0`]);
    expect(parseAttachRequest(base, 'add').pod).toEqual({ name: '', namespace: '' });
  });

  it('differs per attachment and never looks like a Kube-OVN iface-id', () => {
    const a = containerIfaceId(CID, 'eth0');
    expect(a).not.toBe(containerIfaceId(CID, 'net1'));
    expect(a).not.toBe(containerIfaceId(`${CID}x`, 'eth0'));
    // Kube-OVN's `<pod>.<ns>…` never holds a '/', Kubernetes names cannot.
    expect(a).toContain('/');
    const withPod = parseAttachRequest(
      { ...base, args: { K8S_POD_NAME: 'web-0', K8S_POD_NAMESPACE: 'default' } },
      'add',
    );
    expect(withPod.ifaceId).toBe('web-0.default');
  });

  it.each([
    ['no identity with a provider', {}, { provider: 'ovn' }],
    ['a name without a namespace', { K8S_POD_NAME: 'p' }, {}],
    ['a namespace without a name', { K8S_POD_NAMESPACE: 'd' }, {}],
  ])('refuses ADD with %s (code 4)', (_what, args, patch) => {
    let thrown: unknown = null;
    try {
      parseAttachRequest({ ...base, args, config: { ...base.config, ...patch } }, 'add');
    } catch (e) {
      thrown = e;
    }
    expect(toCniError(thrown).code).toBe(4);
  });

  it('DEL with half an identity still finds the attachment by container and ifName', () => {
    expect(parseAttachRequest({ ...base, args: { K8S_POD_NAME: 'p' } }, 'del').ifaceId).toBe(
      `${CID}/eth0`,
    );
  });
});
