import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  parseResourceList,
  parseSriovDpConfig,
  type ResourceConfig,
} from '../../../src/deviceplugin/config.js';

const fixtures = path.join(import.meta.dirname, '../../fixtures/deviceplugin');

/** The config.json a ConfigMap fixture carries, as the device plugin would read it. */
function configMapJson(file: string): string {
  const doc = z
    .object({ data: z.object({ 'config.json': z.string() }) })
    .parse(parseYaml(readFileSync(path.join(fixtures, file), 'utf8')));
  return doc.data['config.json'];
}

const names = (rs: ResourceConfig[]) => rs.map((r) => r.fullName);

describe('device plugin config: published configs load unchanged', () => {
  it('seed 000 (EKS): resourceList as one object is read as a list of one, with a warning naming the fix', () => {
    const { resources, warnings } = parseSriovDpConfig(
      configMapJson('seed-000-eks-configmap.yaml'),
    );
    expect(names(resources)).toEqual(['intel.com/sriov_dpdk_n3']);
    expect(resources[0]!.selectors).toEqual([
      expect.objectContaining({
        vendors: ['1d0f'],
        devices: ['ec20'],
        drivers: ['ena'],
        pciAddresses: ['0000:00:06.0'],
      }),
    ]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/resourceList is a single object/);
    expect(warnings[0]).toMatch(/"resourceList": \[/);
  });

  it('seed 004 (metaScale): resourcePrefix per resource, devices list', () => {
    const { resources, warnings } = parseSriovDpConfig(
      configMapJson('seed-004-metascale-configmap.yaml'),
    );
    expect(warnings).toEqual([]);
    expect(resources).toEqual([
      expect.objectContaining({
        resourceName: 'xsc_sriov',
        resourcePrefix: 'yunsilicon.com',
        fullName: 'yunsilicon.com/xsc_sriov',
        excludeTopology: false,
        requireSwitchdev: false,
      }),
    ]);
    expect(resources[0]!.selectors[0]).toMatchObject({
      vendors: ['1f67'],
      devices: ['1012', '1112'],
    });
  });

  it('the upstream default ConfigMap (applied by seeds 001 and 003) gives its four pools', () => {
    const { resources, warnings } = parseSriovDpConfig(
      configMapJson('upstream-default-configmap.yaml'),
    );
    expect(warnings).toEqual([]);
    expect(names(resources)).toEqual([
      'intel.com/intel_sriov_netdevice',
      'intel.com/intel_sriov_dpdk',
      'intel.com/mlnx_sriov_rdma',
      'intel.com/brcm_sriov_bnxt',
    ]);
    expect(resources[1]!.selectors[0]).toMatchObject({
      drivers: ['vfio-pci'],
      pfNames: [
        { name: 'enp0s0f0', indexes: null },
        { name: 'enp2s2f1', indexes: null },
      ],
    });
    expect(resources[2]!.selectors[0]).toMatchObject({ isRdma: true, drivers: ['mlx5_ib'] });
  });

  it('upstream per-node config: Go-style capitalised keys and SelectorObj are accepted', () => {
    const text = readFileSync(path.join(fixtures, 'upstream-node-config.json'), 'utf8');
    const { resources } = parseSriovDpConfig(text);
    expect(resources[0]!.selectors[0]).toMatchObject({
      pfNames: [
        { name: 'ens785f0', indexes: [{ from: 0, to: 4 }] },
        { name: 'ens785f1', indexes: [{ from: 0, to: 9 }] },
      ],
      isRdma: false,
      needVhostNet: false,
    });
  });
});

describe('device plugin config: defaults and options', () => {
  it('defaults the prefix to intel.com, takes the global prefix, and lets a resource override it', () => {
    const list = [
      { resourceName: 'a', selectors: {} },
      { resourceName: 'b', resourcePrefix: 'example.com', selectors: {} },
    ];
    expect(names(parseResourceList(list).resources)).toEqual(['intel.com/a', 'example.com/b']);
    expect(names(parseResourceList(list, { defaultPrefix: 'nvidia.com' }).resources)).toEqual([
      'nvidia.com/a',
      'example.com/b',
    ]);
  });

  it('keeps selectors as an ordered list, normalises ids, and reads our requireSwitchdev extension', () => {
    const [r] = parseResourceList([
      {
        resourceName: 'offload',
        deviceType: 'netDevice',
        excludeTopology: true,
        requireSwitchdev: true,
        selectors: [
          { vendors: ['0x15B3'], pfNames: ['ENP4s0f0np0#0,2-5'], linkTypes: ['Ether'] },
          { rootDevices: ['0000:D8:00.1#1-3'], needVhostNet: true, isRdma: true },
        ],
      },
    ]).resources;
    expect(r).toMatchObject({ excludeTopology: true, requireSwitchdev: true });
    expect(r!.selectors).toHaveLength(2);
    expect(r!.selectors[0]).toMatchObject({
      vendors: ['15b3'],
      pfNames: [
        {
          name: 'ENP4s0f0np0',
          indexes: [
            { from: 0, to: 0 },
            { from: 2, to: 5 },
          ],
        },
      ],
      linkTypes: ['ether'],
    });
    expect(r!.selectors[1]).toMatchObject({
      rootDevices: [{ name: '0000:d8:00.1', indexes: [{ from: 1, to: 3 }] }],
      needVhostNet: true,
      isRdma: true,
    });
  });

  it('accepts JSON null lists (Go decodes them as empty) and empty unsupported selectors', () => {
    const { resources } = parseResourceList([
      { resourceName: 'x', selectors: { vendors: null, ddpProfiles: [], vdpaType: '' } },
    ]);
    expect(resources[0]!.selectors[0]!.vendors).toEqual([]);
  });

  it('warns about additionalInfo, which it does not act on', () => {
    const { warnings } = parseResourceList([
      { resourceName: 'x', selectors: {}, additionalInfo: { '*': { k: 'v' } } },
    ]);
    expect(warnings).toEqual([expect.stringMatching(/resourceList\[0\]\.additionalInfo: ignored/)]);
  });
});

describe('device plugin config: invalid configs name the path', () => {
  const cases: [string, unknown, RegExp][] = [
    ['not a list', 'x', /resourceList: must be a list/],
    ['missing resourceName', [{ selectors: {} }], /resourceList\[0\]\.resourceName: is required/],
    [
      'resourceName with a dot',
      [{ resourceName: 'a.b', selectors: {} }],
      /resourceList\[0\]\.resourceName: must match \^\[A-Za-z0-9_-\]\+\$/,
    ],
    [
      'resourceName ending in a dash',
      [{ resourceName: 'abc-', selectors: {} }],
      /resourceList\[0\]\.resourceName: must start and end with a letter or digit/,
    ],
    [
      'bad pfNames range',
      [
        { resourceName: 'a', selectors: {} },
        { resourceName: 'b', selectors: { pfNames: ['ens1f0#3-1'] } },
      ],
      /resourceList\[1\]\.selectors\.pfNames\[0\]: "ens1f0#3-1" has a reversed range/,
    ],
    [
      'pfNames index that is not a number',
      [{ resourceName: 'a', selectors: { pfNames: ['ens1f0#x'] } }],
      /resourceList\[0\]\.selectors\.pfNames\[0\]: "ens1f0#x" has a bad VF index "x"/,
    ],
    [
      'pfNames with two #',
      [{ resourceName: 'a', selectors: [{}, { pfNames: ['a#1#2'] }] }],
      /resourceList\[0\]\.selectors\[1\]\.pfNames\[0\]: "a#1#2" has more than one "#"/,
    ],
    [
      'rootDevices that is not a PCI address',
      [{ resourceName: 'a', selectors: { rootDevices: ['d8:00.0#1'] } }],
      /resourceList\[0\]\.selectors\.rootDevices\[0\]: "d8:00\.0" is not a PCI address/,
    ],
    [
      'pciAddresses entry',
      [{ resourceName: 'a', selectors: { pciAddresses: ['0000:00:06'] } }],
      /resourceList\[0\]\.selectors\.pciAddresses\[0\]: must be a PCI address/,
    ],
    [
      'vendors as a string',
      [{ resourceName: 'a', selectors: { vendors: '15b3' } }],
      /resourceList\[0\]\.selectors\.vendors: must be a list/,
    ],
    [
      'vendor id with 5 digits',
      [{ resourceName: 'a', selectors: { vendors: ['15b30'] } }],
      /resourceList\[0\]\.selectors\.vendors\[0\]: must be a 4-digit hex PCI id/,
    ],
    [
      'isRdma as a string',
      [{ resourceName: 'a', selectors: { isRdma: 'true' } }],
      /resourceList\[0\]\.selectors\.isRdma: .*expected boolean/,
    ],
    [
      'typo in a selector key',
      [{ resourceName: 'a', selectors: { pfName: ['ens1f0'] } }],
      /resourceList\[0\]\.selectors\.pfName: unknown key/,
    ],
    [
      'typo in a resource key',
      [{ resourceName: 'a', selector: {} }],
      /resourceList\[0\]\.selector: unknown key.*resourceList\[0\]\.selectors: is required/,
    ],
    [
      'empty selector list',
      [{ resourceName: 'a', selectors: [] }],
      /resourceList\[0\]\.selectors: must not be an empty list/,
    ],
    [
      'unsupported deviceType',
      [{ resourceName: 'a', deviceType: 'accelerator', selectors: {} }],
      /resourceList\[0\]\.deviceType: "accelerator" is not supported/,
    ],
    [
      'unknown deviceType',
      [{ resourceName: 'a', deviceType: 'gpu', selectors: {} }],
      /resourceList\[0\]\.deviceType: unknown device type "gpu"/,
    ],
    [
      'a selector we cannot honour',
      [{ resourceName: 'a', selectors: { ddpProfiles: ['GTPv1-C/U IPv4/IPv6 payload'] } }],
      /resourceList\[0\]\.selectors\.ddpProfiles: not supported by ovs-offload/,
    ],
    [
      'duplicate resource',
      [
        { resourceName: 'a', selectors: {} },
        { resourceName: 'a', selectors: {} },
      ],
      /resourceList\[1\]\.resourceName: intel\.com\/a is already defined by resourceList\[0\]/,
    ],
    [
      'bad resourcePrefix',
      [{ resourceName: 'a', resourcePrefix: 'Intel_com', selectors: {} }],
      /resourceList\[0\]\.resourcePrefix: must be a lowercase DNS subdomain/,
    ],
    [
      'requireSwitchdev as a string',
      [{ resourceName: 'a', requireSwitchdev: 'yes', selectors: {} }],
      /resourceList\[0\]\.requireSwitchdev/,
    ],
  ];
  it.each(cases)('%s', (_name, list, re) => {
    expect(() => parseResourceList(list, { source: 'config.json' })).toThrow(re);
  });

  it('reports every problem at once, prefixed by the source', () => {
    expect(() =>
      parseResourceList(
        [
          { resourceName: 'a b', selectors: { vendors: ['x'] } },
          { resourceName: 'c', selectors: { drivers: [''] } },
        ],
        { source: '/etc/pcidp/config.json' },
      ),
    ).toThrow(
      /^\/etc\/pcidp\/config\.json: resourceList\[0\]\.resourceName: .*; resourceList\[0\]\.selectors\.vendors\[0\]: .*; resourceList\[1\]\.selectors\.drivers\[0\]: must not be empty$/,
    );
  });

  it.each([
    ['not JSON', '{"resourceList": [', /config\.json: not valid JSON/],
    ['no resourceList', '{}', /resourceList: is required/],
    ['unknown top-level key', '{"resourceList": [], "resources": []}', /resources: unknown key/],
    ['a list at the top', '[]', /must be an object with "resourceList"/],
  ])('config.json %s', (_name, text, re) => {
    expect(() => parseSriovDpConfig(text)).toThrow(re);
  });

  it('uses the agent path for an inline list', () => {
    expect(() =>
      parseResourceList([{ resourceName: 'a', selectors: { pfNames: ['#1'] } }], {
        at: ['devicePlugin', 'resourceList'],
      }),
    ).toThrow(/devicePlugin\.resourceList\[0\]\.selectors\.pfNames\[0\]: "#1" has no name/);
  });
});
