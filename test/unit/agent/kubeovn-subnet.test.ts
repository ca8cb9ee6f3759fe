import { describe, expect, it } from 'vitest';
import { parseAttachRequest } from '../../../src/agent/attach/request.js';
import { TransientError } from '../../../src/agent/errors.js';
import { KubeOvnIpSource, type PodApi, type SubnetApi } from '../../../src/agent/kubeovn.js';
import { silentLogger } from '../../../src/sys/index.js';

const provider = 'sriov-net1.default.ovn';

function request(ifName = 'net1') {
  return parseAttachRequest(
    {
      containerID: 'c1',
      netns: '/var/run/netns/p1',
      ifName,
      args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'p1' },
      path: '/opt/cni/bin',
      config: {
        cniVersion: '1.0.0',
        name: 'sriov-net1',
        type: 'ovs-offload-cni',
        server_socket: '/run/ovs-offload/cni.sock',
        provider,
      },
    },
    'add',
  );
}

function pods(a: Record<string, string>): PodApi {
  return { annotations: async () => a, annotate: async () => undefined };
}

describe('KubeOvnIpSource.subnetMtu (Subnet spec.mtu, the second MTU source)', () => {
  it("reads the Subnet named by the pod's logical_switch annotation", async () => {
    const asked: string[] = [];
    const subnets: SubnetApi = {
      mtu: async (name) => {
        asked.push(name);
        return 1300;
      },
    };
    const src = new KubeOvnIpSource(
      pods({ [`${provider}.kubernetes.io/logical_switch`]: 'sn1' }),
      1000,
      silentLogger(),
      subnets,
    );
    expect(await src.subnetMtu(request())).toEqual({ name: 'sn1', mtu: 1300 });
    expect(asked).toEqual(['sn1']);
  });

  it('uses the <provider>.<ifName> key in the appendIfName form', async () => {
    const src = new KubeOvnIpSource(
      pods({
        [`${provider}.net2.kubernetes.io/ip_address`]: '10.0.0.5',
        [`${provider}.net2.kubernetes.io/logical_switch`]: 'sn2',
        [`${provider}.kubernetes.io/logical_switch`]: 'sn1',
      }),
      1000,
      silentLogger(),
      { mtu: async (name) => (name === 'sn2' ? 1200 : 1) },
    );
    expect(await src.subnetMtu(request('net2'))).toEqual({ name: 'sn2', mtu: 1200 });
  });

  it('null without the annotation or without a Subnet API', async () => {
    const none = new KubeOvnIpSource(pods({}), 1000, silentLogger(), { mtu: async () => 1300 });
    expect(await none.subnetMtu(request())).toBeNull();
    const noApi = new KubeOvnIpSource(
      pods({ [`${provider}.kubernetes.io/logical_switch`]: 'sn1' }),
      1000,
      silentLogger(),
    );
    expect(await noApi.subnetMtu(request())).toBeNull();
  });

  it('a Subnet that cannot be read fails the ADD as Kube-OVN does, transiently, naming it', async () => {
    const src = new KubeOvnIpSource(
      pods({ [`${provider}.kubernetes.io/logical_switch`]: 'sn1' }),
      1000,
      silentLogger(),
      {
        mtu: async () => {
          throw new Error('subnets.kubeovn.io "sn1" is forbidden');
        },
      },
    );
    const err = await src.subnetMtu(request()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toMatch(/read Kube-OVN Subnet sn1 \(subnets\.kubeovn\.io/);
  });
});
