import { describe, expect, it } from 'vitest';
import { InvalidInputError, Ip } from '../../../src/sys/index.js';
import { RecordingRunner } from '../../helpers/recording-runner.js';
import {
  applyVfKnobs,
  parseVfInfoText,
  readAllVfKnobs,
  readVfKnobs,
  validateKnobs,
  vfKnobsArgs,
  type VfKnobs,
} from '../../../src/vf/index.js';
import { capture } from '../../helpers/captures.js';

/** What `ip -j -d link show dev PF` prints (iproute2 ≥ 4.19 print_vfinfo field names). */
function linkJson(pf: string, vfs: Record<string, unknown>[]): string {
  return JSON.stringify([{ ifindex: 2, ifname: pf, operstate: 'UP', vfinfo_list: vfs }]);
}
const vf1 = {
  vf: 1,
  link_type: 'ether',
  address: '0A:11:22:33:44:55',
  broadcast: 'ff:ff:ff:ff:ff:ff',
  vlan_list: [{ vlan: 100, qos: 3 }],
  rate: { max_tx: 500, min_tx: 100 },
  spoofchk: false,
  link_state: 'disable',
  trust: true,
  query_rss_en: false,
};
const vf0 = {
  vf: 0,
  address: '00:00:00:00:00:00',
  vlan_list: [{}],
  rate: { max_tx: 0, min_tx: 0 },
  spoofchk: true,
  link_state: 'auto',
  trust: false,
};

function runner(show: string): RecordingRunner {
  return new RecordingRunner()
    .on(/^ip -n h1 -j -d link show dev enp1s0f0$/, { stdout: show })
    .on(/^ip -n h1 link set dev enp1s0f0 vf /, {});
}

describe('readVfKnobs', () => {
  it('reads vfinfo_list (newer iproute2 names)', async () => {
    const ip = new Ip(runner(linkJson('enp1s0f0', [vf0, vf1])));
    expect(await readVfKnobs(ip, 'enp1s0f0', 1, { netns: { name: 'h1' } })).toEqual({
      mac: '0a:11:22:33:44:55',
      vlan: 100,
      qos: 3,
      proto: '802.1Q',
      minTxRate: 100,
      maxTxRate: 500,
      spoofchk: 'off',
      trust: 'on',
      linkState: 'disable',
    });
  });

  it('reads the older field names (mac, vlan/qos, tx_rate) and protocol 802.1ad', async () => {
    const old = { vf: 0, mac: '02:00:00:00:00:01', vlan: 7, qos: 1, tx_rate: 40, spoofchk: true };
    const ad = {
      vf: 1,
      address: '02:00:00:00:00:02',
      vlan_list: [{ vlan: 9, protocol: '802.1ad' }],
    };
    const all = await readAllVfKnobs(new Ip(runner(linkJson('enp1s0f0', [old, ad]))), 'enp1s0f0', {
      netns: { name: 'h1' },
    });
    expect(all.get(0)).toEqual({
      mac: '02:00:00:00:00:01',
      vlan: 7,
      qos: 1,
      proto: '802.1Q',
      maxTxRate: 40,
      spoofchk: 'on',
    });
    expect(all.get(1)).toMatchObject({ vlan: 9, qos: 0, proto: '802.1ad' });
  });

  it('a vfinfo entry without "vf" is an error; a VF the PF does not list is NotFound', async () => {
    const bad = new Ip(runner(linkJson('enp1s0f0', [{ address: '00:00:00:00:00:00' }])));
    await expect(readVfKnobs(bad, 'enp1s0f0', 0, { netns: { name: 'h1' } })).rejects.toThrow(
      /read VF knobs of enp1s0f0: unexpected ip JSON/,
    );
    const ok = new Ip(runner(linkJson('enp1s0f0', [vf0])));
    await expect(readVfKnobs(ok, 'enp1s0f0', 3, { netns: { name: 'h1' } })).rejects.toThrow(
      /read VF 3 knobs of enp1s0f0: the PF lists 1 VFs/,
    );
  });

  it('falls back to the text form when iproute2 has no -j (the kubeovn CX-5 capture)', async () => {
    const text = capture('kubeovn-cx5-vf-linkether-disable.txt');
    const r = new RecordingRunner()
      .on('ip -j -d link show dev enp132s0f0np0', {
        exitCode: 255,
        stderr: 'Option "-j" is unknown, try "ip -help".\n',
      })
      .on('ip -d link show dev enp132s0f0np0', { stdout: text });
    const all = await readAllVfKnobs(new Ip(r), 'enp132s0f0np0');
    expect([...all.keys()]).toEqual([0, 1, 2, 3]);
    expect(all.get(3)).toEqual({
      mac: '00:00:00:00:00:00',
      vlan: 0,
      qos: 0,
      proto: '802.1Q',
      minTxRate: 0,
      maxTxRate: 0,
      spoofchk: 'off',
      linkState: 'disable',
      trust: 'off',
    });
  });
});

describe('parseVfInfoText on captures', () => {
  it('old "vf N MAC" lines (wangjun, legacy ConnectX-5)', () => {
    const m = parseVfInfoText(capture('wangjun-ip-d-link-pf-vf-mac.txt'), 'enp216s0f0');
    expect([...m.values()].map((k) => k.mac)).toEqual([
      '0e:4e:1c:6c:cc:ab',
      'e0:18:f7:1b:8f:d9',
      '00:48:9d:d1:c9:00',
      '60:03:82:7e:1a:d1',
    ]);
    expect(m.get(0)).toMatchObject({ spoofchk: 'off', linkState: 'auto', trust: 'off' });
  });

  it('all links with "..." elisions: only the asked PF, p1 has no VF lines', () => {
    const text = capture('wangjun-ip-d-link-all-elided.txt');
    expect(parseVfInfoText(text, 'enp216s0f0').size).toBe(4);
    expect(parseVfInfoText(text, 'enp216s0f1').size).toBe(0);
  });

  it('a switchdev PF without VFs has none', () => {
    expect(
      parseVfInfoText(capture('wangjun-ip-d-link-pf-switchdev-switchid.txt'), 'enp216s0f0').size,
    ).toBe(0);
  });

  it('vlan, qos, protocol and rates in the newer text form', () => {
    const line =
      '2: eth0: <UP> mtu 1500\n    vf 1     link/ether 0a:11:22:33:44:55 brd ff:ff:ff:ff:ff:ff, vlan 100, qos 3, vlan protocol 802.1ad, max_tx_rate 500Mbps, min_tx_rate 100Mbps, spoof checking on, link-state enable, trust on, query_rss off';
    expect(parseVfInfoText(line).get(1)).toEqual({
      mac: '0a:11:22:33:44:55',
      vlan: 100,
      qos: 3,
      proto: '802.1ad',
      maxTxRate: 500,
      minTxRate: 100,
      spoofchk: 'on',
      linkState: 'enable',
      trust: 'on',
    });
  });
});

describe('validateKnobs', () => {
  it.each<[string, VfKnobs, RegExp]>([
    ['vlan above 4095', { vlan: 4096 }, /vlan: 4096 is not an integer in 0\.\.4095/],
    ['negative vlan', { vlan: -1 }, /vlan/],
    ['qos above 7', { vlan: 5, qos: 8 }, /qos: 8 is not an integer in 0\.\.7/],
    ['qos without vlan', { qos: 1 }, /qos and proto are set together with vlan/],
    ['qos on vlan 0', { vlan: 0, qos: 2 }, /need a non-zero vlan/],
    ['802.1ad on vlan 0', { vlan: 0, proto: '802.1ad' }, /need a non-zero vlan/],
    [
      'unknown proto',
      { vlan: 5, proto: '802.1x' as VfKnobs['proto'] },
      /proto: "802\.1x" is not one of 802\.1Q\|802\.1ad/,
    ],
    [
      'spoofchk yes',
      { spoofchk: 'yes' as VfKnobs['spoofchk'] },
      /spoofchk: "yes" is not one of on\|off/,
    ],
    ['trust true', { trust: true as unknown as VfKnobs['trust'] }, /trust/],
    [
      'link state up',
      { linkState: 'up' as VfKnobs['linkState'] },
      /link_state: "up" is not one of auto\|enable\|disable/,
    ],
    ['fractional rate', { maxTxRate: 1.5 }, /max_tx_rate/],
    [
      'multicast mac',
      { mac: '01:00:5e:00:00:01' },
      /mac: 01:00:5e:00:00:01 is a multicast address/,
    ],
    ['not a mac', { mac: '0a:11:22:33:44' }, /is not a MAC address/],
    ['unknown knob', { rate: 5 } as unknown as VfKnobs, /rate: unknown VF knob/],
  ])('%s', (_name, knobs, message) => {
    expect(() => validateKnobs(knobs)).toThrow(InvalidInputError);
    expect(() => validateKnobs(knobs)).toThrow(message);
  });

  it('normalizes', () => {
    expect(
      validateKnobs({
        mac: '0A:BB:CC:DD:EE:FF',
        vlan: 10,
        proto: '802.1AD' as VfKnobs['proto'],
        spoofchk: 'OFF' as VfKnobs['spoofchk'],
      }),
    ).toEqual({
      mac: '0a:bb:cc:dd:ee:ff',
      vlan: 10,
      proto: '802.1ad',
      spoofchk: 'off',
    });
  });
});

describe('applyVfKnobs', () => {
  it('one ip call with every knob, rates as a pair, and the snapshot restores exactly what changed', async () => {
    const r = runner(linkJson('enp1s0f0', [vf0, vf1]));
    const ip = new Ip(r);
    const opts = { netns: { name: 'h1' } };
    const change = await applyVfKnobs(
      ip,
      'enp1s0f0',
      1,
      {
        mac: '0a:00:00:00:00:09',
        vlan: 200,
        spoofchk: 'on',
        trust: 'off',
        linkState: 'auto',
        maxTxRate: 800,
      },
      opts,
    );
    expect(change.applied).toEqual({
      mac: '0a:00:00:00:00:09',
      vlan: 200,
      qos: 0,
      proto: '802.1Q',
      spoofchk: 'on',
      trust: 'off',
      linkState: 'auto',
      minTxRate: 100,
      maxTxRate: 800,
    });
    expect(change.previous).toEqual({
      mac: '0a:11:22:33:44:55',
      vlan: 100,
      qos: 3,
      proto: '802.1Q',
      spoofchk: 'off',
      trust: 'on',
      linkState: 'disable',
      minTxRate: 100,
      maxTxRate: 500,
    });
    await applyVfKnobs(ip, 'enp1s0f0', 1, change.previous, opts);
    expect(r.lines().filter((l) => l.includes(' set '))).toEqual([
      'ip -n h1 link set dev enp1s0f0 vf 1 mac 0a:00:00:00:00:09 vlan 200 spoofchk on trust off state auto min_tx_rate 100 max_tx_rate 800',
      'ip -n h1 link set dev enp1s0f0 vf 1 mac 0a:11:22:33:44:55 vlan 100 qos 3 spoofchk off trust on state disable min_tx_rate 100 max_tx_rate 500',
    ]);
  });

  it('min above max (max from the current values) is refused before any ip call', async () => {
    const r = runner(linkJson('enp1s0f0', [vf0, vf1]));
    await expect(
      applyVfKnobs(new Ip(r), 'enp1s0f0', 1, { minTxRate: 600 }, { netns: { name: 'h1' } }),
    ).rejects.toThrow(/min_tx_rate: 600 Mbps is above max_tx_rate 500 Mbps/);
    expect(r.lines().some((l) => l.includes(' set '))).toBe(false);
    // max 0 means unlimited: any min goes
    await applyVfKnobs(new Ip(r), 'enp1s0f0', 0, { minTxRate: 600 }, { netns: { name: 'h1' } });
    expect(r.lines().at(-1)).toBe(
      'ip -n h1 link set dev enp1s0f0 vf 0 min_tx_rate 600 max_tx_rate 0',
    );
  });

  it('bad input runs nothing at all', async () => {
    const r = runner(linkJson('enp1s0f0', [vf0]));
    await expect(applyVfKnobs(new Ip(r), 'enp1s0f0', 0, { vlan: 5000 })).rejects.toThrow(
      InvalidInputError,
    );
    await expect(applyVfKnobs(new Ip(r), 'bad/name', 0, { vlan: 5 })).rejects.toThrow(
      InvalidInputError,
    );
    await expect(applyVfKnobs(new Ip(r), 'enp1s0f0', -1, { vlan: 5 })).rejects.toThrow(/vfIndex/);
    expect(r.calls).toEqual([]);
  });

  it('vfKnobsArgs leaves iproute2 defaults unsaid and names 802.1ad', () => {
    expect(vfKnobsArgs('p', 2, { vlan: 10, qos: 0, proto: '802.1ad' })).toEqual([
      'link',
      'set',
      'dev',
      'p',
      'vf',
      '2',
      'vlan',
      '10',
      'proto',
      '802.1ad',
    ]);
  });
});
