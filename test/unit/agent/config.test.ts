import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../../src/agent/config.js';

describe('agent config', () => {
  it('fills every default of an empty config', () => {
    const c = parseAgentConfig({ nodeName: 'n1' });
    expect(c).toEqual({
      sysfsRoot: '/',
      nodeName: 'n1',
      stateDir: '/var/lib/ovs-offload',
      ovs: {
        db: 'unix:/var/run/openvswitch/db.sock',
        bridge: 'br-int',
        ovnInstalledTimeoutMs: 30000,
      },
      nics: [],
      cni: { socket: '/run/ovs-offload/cni.sock' },
      metrics: { listen: '127.0.0.1:9476', flowSampleIntervalMs: 0 },
    });
  });

  it('defaults the device plugin config file and resource prefix', () => {
    const c = parseAgentConfig({ devicePlugin: {} });
    expect(c.devicePlugin).toMatchObject({
      configFile: '/etc/pcidp/config.json',
      resourcePrefix: 'intel.com',
    });
    expect(c.nodeName.length).toBeGreaterThan(0);
  });

  it.each([
    [{ ovs: { dbb: 'x' } }, /ovs: Unrecognized key: "dbb"/],
    [{ nics: [{ pf: 'eth0' }, { pci: '03:00.0' }] }, /nics\[1\]\.pci: not a PCI address/],
    [{ nics: [{ pf: 'eth0', pci: '0000:03:00.0' }] }, /nics\[0\]: exactly one of "pf" or "pci"/],
    [{ nics: [{ pf: 'a/b' }] }, /nics\[0\]\.pf: not a valid interface name/],
    [{ ovs: { tcPolicy: 'fast' } }, /ovs\.tcPolicy/],
    [{ ovs: { db: 'ssl:1.2.3.4:6640' } }, /ovs\.db: must be unix/],
    [{ metrics: { listen: 'nope' } }, /metrics\.listen: must be HOST:PORT/],
    [{ metrics: { listen: '127.0.0.1:99999' } }, /metrics\.listen: port must be 1\.\.65535/],
    [{ ovs: { db: 'tcp:10.0.0.1:0' } }, /ovs\.db: port must be 1\.\.65535/],
    [{ stateDir: 'relative' }, /stateDir: must be an absolute path/],
    [{ bogus: 1 }, /Unrecognized key: "bogus"/],
  ])('rejects %j naming the path', (raw, re) => {
    expect(() => parseAgentConfig(raw, 'agent.yaml')).toThrow(re);
  });

  it('accepts metrics.listen null (metrics off) and lowercases PCI addresses', () => {
    const c = parseAgentConfig({
      metrics: { listen: null },
      nics: [{ pci: '0000:D8:00.0', numVfs: 4, eswitchMode: 'switchdev' }],
    });
    expect(c.metrics.listen).toBeNull();
    expect(c.nics[0]).toEqual({
      pci: '0000:d8:00.0',
      numVfs: 4,
      eswitchMode: 'switchdev',
      legacyPortNames: false,
    });
  });
});
