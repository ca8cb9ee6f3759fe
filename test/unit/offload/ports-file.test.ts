import { describe, expect, it } from 'vitest';
import { parsePortsFile, parsePortTable } from '../../../src/offload/index.js';
import { InvalidInputError } from '../../../src/sys/index.js';

/** The `--ports FILE` formats: JSON, `ovs-appctl dpif/show` and `dpctl/show` text. */

// OVS indents with tabs or spaces depending on the version: both are read.
const DPIF_SHOW = [
  'netdev@ovs-netdev: hit:6 missed:6',
  '\tbr-int:',
  '\t\tbr-int 65534/1: (tap)',
  '\t\tonjgup0_0 1/2: (system)',
  '\t\tonjgup0_1 2/3: (system)',
  '\t\tpatch-ex 3/none: (patch: peer=patch-in)',
  '\tbr-x:',
  '\t\tbr-x 65534/4: (tap)',
  'system@ovs-system: hit:0 missed:0',
  '  br-phy:',
  '    genev_sys_6081 1/5: (geneve: packet_type=ptap, dst_port=6081)',
  '',
].join('\n');

const DPCTL_SHOW = `netdev@ovs-netdev:
  lookups: hit:6 missed:6 lost:0
  flows: 6
  port 0: ovs-netdev (tap)
  port 1: br-int (tap)
  port 2: onjgup0_0
  port 4: vxlan_sys_4789 (vxlan: packet_type=ptap)
`;

describe('parsePortTable', () => {
  it('dpif/show: name, ofport/odp, bridge, type, datapath', () => {
    const rows = parsePortTable(DPIF_SHOW);
    expect(rows.map((r) => [r.name, r.ofport, r.odp, r.bridge, r.type, r.datapath])).toEqual([
      ['br-int', 65534, 1, 'br-int', 'tap', 'netdev@ovs-netdev'],
      ['onjgup0_0', 1, 2, 'br-int', 'system', 'netdev@ovs-netdev'],
      ['onjgup0_1', 2, 3, 'br-int', 'system', 'netdev@ovs-netdev'],
      ['patch-ex', 3, null, 'br-int', 'patch', 'netdev@ovs-netdev'],
      ['br-x', 65534, 4, 'br-x', 'tap', 'netdev@ovs-netdev'],
      ['genev_sys_6081', 1, 5, 'br-phy', 'geneve', 'system@ovs-system'],
    ]);
    expect(rows.every((r) => r.pod === null && r.error === null)).toBe(true);
  });

  it('dpctl/show: odp and name, no bridge; a port without a type is a system netdev', () => {
    expect(
      parsePortTable(DPCTL_SHOW).map((r) => [r.name, r.odp, r.ofport, r.bridge, r.type]),
    ).toEqual([
      ['ovs-netdev', 0, null, null, 'tap'],
      ['br-int', 1, null, null, 'tap'],
      ['onjgup0_0', 2, null, null, 'system'],
      ['vxlan_sys_4789', 4, null, null, 'vxlan'],
    ]);
  });

  it('CRLF and # comment lines are fine', () => {
    const text = `# taken on node-3\r\n${DPIF_SHOW.split('\n').join('\r\n')}`;
    expect(parsePortTable(text)).toEqual(parsePortTable(DPIF_SHOW));
  });
});

describe('parsePortsFile', () => {
  it('JSON entries; only port is required', () => {
    const rows = parsePortsFile(
      JSON.stringify({
        ports: [
          { port: 'rep0', ofport: 5, odp: 7, pod: 'ns/a', bridge: 'br-int' },
          { port: 'genev_sys_6081', type: 'geneve' },
        ],
      }),
    );
    expect(rows).toEqual([
      {
        name: 'rep0',
        ofport: 5,
        odp: 7,
        bridge: 'br-int',
        pod: 'ns/a',
        type: null,
        datapath: null,
        error: null,
      },
      {
        name: 'genev_sys_6081',
        ofport: null,
        odp: null,
        bridge: null,
        pod: null,
        type: 'geneve',
        datapath: null,
        error: null,
      },
    ]);
  });

  it('dpif/show text is accepted as a ports file', () => {
    expect(parsePortsFile(DPIF_SHOW)).toEqual(parsePortTable(DPIF_SHOW));
  });

  it.each([
    ['not JSON', '{"ports": [', /ports.json: not valid JSON/],
    ['unknown key named', '{"ports":[{"port":"a","pods":"ns/a"}]}', /ports\.0: .*pods/],
    ['unknown top-level key', '{"ports":[],"facts":{}}', /facts/],
    [
      'pod without namespace',
      '{"ports":[{"port":"a","pod":"a"}]}',
      /ports\.0\.pod: must be namespace\/name/,
    ],
    ['negative odp', '{"ports":[{"port":"a","odp":-1}]}', /ports\.0\.odp/],
    [
      'port listed twice',
      '{"ports":[{"port":"a"},{"port":"a"}]}',
      /ports\.1\.port: a is listed twice/,
    ],
    ['missing ports', '{}', /ports/],
    ['neither format', 'hello world\n', /neither JSON .* nor `ovs-appctl dpif\/show`/],
  ])('%s → InvalidInputError naming the file', (_name, text, message) => {
    expect(() => parsePortsFile(text, 'ports.json')).toThrow(InvalidInputError);
    expect(() => parsePortsFile(text, 'ports.json')).toThrow(message);
  });
});
