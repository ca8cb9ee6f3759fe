import type { ToolResult, VfKnobs } from './protocol.js';

/** What the ip stand-in needs from the emulator. */
export interface IpVfModel {
  pf(netdev: string): { mode: 'legacy' | 'switchdev'; numVfs: number } | undefined;
  knobs(netdev: string, vf: number): VfKnobs | undefined;
  apply(netdev: string, vf: number, next: VfKnobs): Promise<void>;
}

export interface ParsedIp {
  global: {
    json: boolean;
    details: boolean;
    pretty: boolean;
    brief: boolean;
    oneline: boolean;
    /** `-n NAME` / `-netns NAME`: ip runs in /var/run/netns/NAME. */
    netns: string | null;
  };
  /** The words after global options (`link set dev X vf 0 mac …`). */
  words: string[];
}

/**
 * ip's global options in the order ip.c tries them (iproute2 6.1): `matches()` accepts any
 * prefix, so `-d` is `-details`, `-n` is `-netns`, `-b` is `-batch` and `-br` is `-brief`.
 * [name, takes an argument]; `exact` ones must be spelled out.
 */
const GLOBAL_OPTIONS: readonly (readonly [string, boolean, 'exact'?])[] = [
  ['-loops', true],
  ['-family', true],
  ['-4', false, 'exact'],
  ['-6', false, 'exact'],
  ['-0', false, 'exact'],
  ['-M', false, 'exact'],
  ['-B', false, 'exact'],
  ['-human', false],
  ['-human-readable', false],
  ['-iec', false],
  ['-stats', false],
  ['-statistics', false],
  ['-details', false],
  ['-resolve', false],
  ['-oneline', false],
  ['-timestamp', false],
  ['-tshort', false],
  ['-Version', false],
  ['-force', false],
  ['-batch', true],
  ['-brief', false],
  ['-json', false],
  ['-pretty', false],
  ['-rcvbuf', true],
  ['-color', false],
  ['-help', false],
  ['-netns', true],
  ['-Numeric', false],
  ['-all', false],
  ['-echo', false, 'exact'],
];

function globalOption(opt: string): readonly [string, boolean, 'exact'?] | undefined {
  const bare = opt.split('=')[0] ?? opt; // -color=auto
  return GLOBAL_OPTIONS.find(([name, , exact]) =>
    exact ? opt === name : bare.length > 1 && name.startsWith(bare),
  );
}

/** Splits ip's global options (`-j -d -n NS -batch FILE`) from the command. */
export function parseIpArgv(argv: readonly string[]): ParsedIp {
  const global: ParsedIp['global'] = {
    json: false,
    details: false,
    pretty: false,
    brief: false,
    oneline: false,
    netns: null,
  };
  let i = 0;
  for (; i < argv.length; i++) {
    let a = argv[i] ?? '';
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-')) break;
    if (a.startsWith('--')) a = a.slice(1);
    const opt = globalOption(a);
    if (opt) {
      const [name, takesArg] = opt;
      if (name === '-json') global.json = true;
      else if (name === '-details') global.details = true;
      else if (name === '-pretty') global.pretty = true;
      else if (name === '-brief') global.brief = true;
      else if (name === '-oneline') global.oneline = true;
      if (takesArg) {
        i++;
        if (name === '-netns') global.netns = argv[i] ?? null;
      }
    } else if (/^-[a-z]+$/.test(a) && a.length <= 4) {
      // combined short flags like -jd (not iproute2's, which refuses them: kept lenient)
      if (a.includes('j')) global.json = true;
      if (a.includes('d')) global.details = true;
      if (a.includes('p')) global.pretty = true;
    }
  }
  return { global, words: argv.slice(i) };
}

const rtnl = (msg: string): ToolResult => ({
  stdout: '',
  stderr: `RTNETLINK answers: ${msg}\n`,
  code: 2,
});
const usage = (msg: string): ToolResult => ({ stdout: '', stderr: `${msg}\n`, code: 1 });

function onOff(v: string | undefined, what: string): boolean | ToolResult {
  if (v === 'on') return true;
  if (v === 'off') return false;
  return usage(`Error: argument "${v ?? ''}" is wrong: Invalid "${what}" value`);
}

function uint(v: string | undefined, what: string): number | ToolResult {
  if (v === undefined || !/^\d+$/.test(v))
    return usage(`Error: argument "${v ?? ''}" is wrong: Invalid "${what}" value`);
  return Number(v);
}

/**
 * `ip link set [dev] PF vf N KNOB…`: validates like iproute2 + the kernel + mlx5 (range
 * checks, EINVAL for a VF index past numvfs, EOPNOTSUPP for legacy-only knobs in switchdev).
 * Returns null when the command has no `vf` clause (not ours: run the real ip).
 */
export async function runIpVf(
  model: IpVfModel,
  argv: readonly string[],
): Promise<ToolResult | null> {
  const { words } = parseIpArgv(argv);
  if (!(words[0] === 'link' || words[0] === 'l') || words[1] !== 'set') return null;
  let i = 2;
  if (words[i] === 'dev') i++;
  const dev = words[i++];
  if (dev === undefined || words[i] !== 'vf') return null;
  i++;
  const pf = model.pf(dev);
  if (!pf) return null;
  const vfWord = words[i++];
  if (vfWord === undefined || !/^\d+$/.test(vfWord)) return usage(`Invalid "vf" value`);
  const vf = Number(vfWord);
  const cur = model.knobs(dev, vf);
  if (!cur || vf >= pf.numVfs) return rtnl('Invalid argument');
  const next: VfKnobs = { ...cur };
  let legacyOnly = false;
  while (i < words.length) {
    const key = words[i++];
    const val = words[i++];
    switch (key) {
      case 'mac': {
        if (val === undefined || !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(val))
          return usage(`"${val ?? ''}" is invalid lladdr.`);
        // A multicast address cannot be a station address: drivers answer EINVAL.
        if (parseInt(val.slice(0, 2), 16) & 1) return rtnl('Invalid argument');
        next.mac = val.toLowerCase();
        break;
      }
      case 'vlan': {
        const v = uint(val, 'vlan');
        if (typeof v !== 'number') return v;
        if (v > 4095) return rtnl('Invalid argument');
        next.vlan = v;
        next.qos = 0;
        next.proto = '802.1Q';
        legacyOnly = true;
        while (words[i] === 'qos' || words[i] === 'proto') {
          const k = words[i++];
          const kv = words[i++];
          if (k === 'qos') {
            const q = uint(kv, 'qos');
            if (typeof q !== 'number') return q;
            if (q > 7) return rtnl('Invalid argument');
            next.qos = q;
          } else {
            const p = (kv ?? '').toLowerCase();
            if (p !== '802.1q' && p !== '802.1ad')
              return usage(`Error: argument "${kv ?? ''}" is wrong: Invalid "proto" value`);
            next.proto = p === '802.1q' ? '802.1Q' : '802.1ad';
          }
        }
        if (next.vlan === 0 && (next.qos !== 0 || next.proto !== '802.1Q'))
          return rtnl('Invalid argument');
        break;
      }
      case 'rate':
      case 'max_tx_rate': {
        const v = uint(val, key);
        if (typeof v !== 'number') return v;
        next.maxTxRate = v;
        legacyOnly = true;
        break;
      }
      case 'min_tx_rate': {
        const v = uint(val, key);
        if (typeof v !== 'number') return v;
        next.minTxRate = v;
        legacyOnly = true;
        break;
      }
      case 'spoofchk': {
        const v = onOff(val, 'spoofchk');
        if (typeof v !== 'boolean') return v;
        next.spoofchk = v;
        break;
      }
      case 'trust': {
        const v = onOff(val, 'trust');
        if (typeof v !== 'boolean') return v;
        next.trust = v;
        break;
      }
      case 'state': {
        if (val !== 'auto' && val !== 'enable' && val !== 'disable')
          return usage(`Error: argument "${val ?? ''}" is wrong: Invalid "state" value`);
        next.linkState = val;
        break;
      }
      case 'query_rss':
        break;
      default:
        return usage(
          `Error: argument "${key ?? ''}" is wrong: unknown vf knob (the sandbox ip stand-in takes mac, vlan/qos/proto, rate, max_tx_rate, min_tx_rate, spoofchk, trust, state)`,
        );
    }
  }
  if (next.maxTxRate !== 0 && next.minTxRate > next.maxTxRate) return rtnl('Invalid argument');
  // mlx5 in switchdev owns VLAN and rate policy in the eswitch (OVS), not per-VF knobs.
  if (legacyOnly && pf.mode === 'switchdev') return rtnl('Operation not supported');
  await model.apply(dev, vf, next);
  return { stdout: '', stderr: '', code: 0 };
}

/** One entry of `vfinfo_list` exactly as `ip -j link show` prints it (iproute2 print_vfinfo). */
export function vfinfoJson(vf: number, k: VfKnobs): Record<string, unknown> {
  const vlan: Record<string, unknown> = {};
  if (k.vlan) vlan.vlan = k.vlan;
  if (k.qos) vlan.qos = k.qos;
  if (k.proto !== '802.1Q') vlan.protocol = k.proto;
  return {
    vf,
    link_type: 'ether',
    address: k.mac,
    broadcast: 'ff:ff:ff:ff:ff:ff',
    vlan_list: [vlan],
    rate: { max_tx: k.maxTxRate, min_tx: k.minTxRate },
    spoofchk: k.spoofchk,
    link_state: k.linkState,
    trust: k.trust,
    query_rss_en: false,
  };
}

/** The text form of one VF line (`    vf 0     link/ether …, spoof checking on, …`). */
export function vfinfoText(vf: number, k: VfKnobs): string {
  let s = `    vf ${vf}     link/ether ${k.mac} brd ff:ff:ff:ff:ff:ff`;
  if (k.vlan) s += `, vlan ${k.vlan}`;
  if (k.qos) s += `, qos ${k.qos}`;
  if (k.vlan && k.proto !== '802.1Q') s += `, vlan protocol ${k.proto}`;
  if (k.maxTxRate) s += `, max_tx_rate ${k.maxTxRate}Mbps`;
  if (k.minTxRate) s += `, min_tx_rate ${k.minTxRate}Mbps`;
  s += `, spoof checking ${k.spoofchk ? 'on' : 'off'}, link-state ${k.linkState}, trust ${k.trust ? 'on' : 'off'}, query_rss off`;
  return s;
}
