import type { ToolResult } from './protocol.js';

/** What the devlink stand-in needs from the emulator. */
export interface DevlinkModel {
  pfs(): {
    pci: string;
    index: number;
    mode: 'legacy' | 'switchdev';
    uplink: string;
    reps: { vf: number; netdev: string; mac: string }[];
  }[];
  setMode(pci: string, mode: 'legacy' | 'switchdev'): Promise<string | null>;
  /** `port function set <VF port> hw_addr`: the VF's administrative MAC (vfinfo_list's). */
  setHwAddr(pci: string, vf: number, mac: string): Promise<void>;
  garbage(): string | undefined;
}

const ok = (stdout = ''): ToolResult => ({ stdout, stderr: '', code: 0 });
const fail = (stderr: string): ToolResult => ({ stdout: '', stderr: `${stderr}\n`, code: 1 });

/** devlink matches keywords by prefix (`dev eswitch sh`), as dl_argv_match does. */
function matches(arg: string | undefined, word: string): boolean {
  return arg !== undefined && arg.length > 0 && word.startsWith(arg);
}

function render(json: boolean, pretty: boolean, obj: unknown, text: string): string {
  if (!json) return text;
  return (pretty ? JSON.stringify(obj, null, 4) : JSON.stringify(obj)) + '\n';
}

/** Port index the way mlx5 numbers them: the physical port 65535, VF reps pfnum<<16 | vf+1. */
export function repPortIndex(pf: number, vf: number): number {
  return pf * 65536 + vf + 1;
}

export async function runDevlink(
  model: DevlinkModel,
  argvIn: readonly string[],
): Promise<ToolResult> {
  let json = false;
  let pretty = false;
  const argv: string[] = [];
  for (const a of argvIn) {
    if (a === '-j' || a === '--json') json = true;
    else if (a === '-p' || a === '--pretty') pretty = true;
    else if (a === '-jp' || a === '-pj') json = pretty = true;
    else argv.push(a);
  }
  const garbage = model.garbage();
  if (garbage !== undefined) return ok(garbage);
  const [obj, cmd, ...rest] = argv;
  const pfs = model.pfs();

  if (matches(obj, 'dev') && (cmd === undefined || matches(cmd, 'show') || matches(cmd, 'list'))) {
    const handle = rest[0];
    const list = pfs.filter((p) => handle === undefined || handle === `pci/${p.pci}`);
    if (handle !== undefined && list.length === 0) return fail('devlink answers: No such device');
    const o = { dev: Object.fromEntries(list.map((p) => [`pci/${p.pci}`, {}])) };
    return ok(render(json, pretty, o, list.map((p) => `pci/${p.pci}\n`).join('')));
  }

  if (matches(obj, 'dev') && matches(cmd, 'eswitch')) {
    const [sub, handle, ...opts] = rest;
    const pci = handle?.startsWith('pci/') ? handle.slice(4) : undefined;
    const pf = pfs.find((p) => p.pci === pci);
    if (matches(sub, 'show')) {
      if (!pf) return fail('devlink answers: No such device');
      const attrs = { mode: pf.mode, 'inline-mode': 'none', 'encap-mode': 'basic' };
      const o = { dev: { [`pci/${pf.pci}`]: attrs } };
      return ok(
        render(
          json,
          pretty,
          o,
          `pci/${pf.pci}: mode ${pf.mode} inline-mode none encap-mode basic\n`,
        ),
      );
    }
    if (matches(sub, 'set')) {
      if (!pf) return fail('devlink answers: No such device');
      let mode: string | undefined;
      for (let i = 0; i < opts.length; i += 2) {
        const key = opts[i];
        const val = opts[i + 1];
        if (matches(key, 'mode')) mode = val;
        else if (matches(key, 'inline-mode') || matches(key, 'encap-mode') || matches(key, 'encap'))
          continue;
        else return fail(`Unknown option "${key}"`);
      }
      if (mode !== 'legacy' && mode !== 'switchdev') return fail(`E-Switch mode option expected.`);
      const refused = await model.setMode(pf.pci, mode);
      if (refused !== null)
        return fail(`Error: ${refused}.\nkernel answers: Device or resource busy`);
      return ok();
    }
    return fail('Command "' + (sub ?? '') + '" not found');
  }

  if (matches(obj, 'port') && matches(cmd, 'function')) {
    return portFunction(model, pfs, rest);
  }

  if (matches(obj, 'port') && (cmd === undefined || matches(cmd, 'show') || matches(cmd, 'list'))) {
    const handle = rest[0];
    const ports: { handle: string; attrs: Record<string, unknown>; text: string }[] = [];
    for (const p of pfs) {
      ports.push({
        handle: `pci/${p.pci}/65535`,
        attrs: {
          type: 'eth',
          netdev: p.uplink,
          flavour: 'physical',
          port: p.index,
          splittable: false,
        },
        text: `type eth netdev ${p.uplink} flavour physical port ${p.index} splittable false`,
      });
      for (const r of p.reps) {
        ports.push({
          handle: `pci/${p.pci}/${repPortIndex(p.index, r.vf)}`,
          attrs: {
            type: 'eth',
            netdev: r.netdev,
            flavour: 'pcivf',
            controller: 0,
            pfnum: p.index,
            vfnum: r.vf,
            external: false,
            splittable: false,
            function: { hw_addr: r.mac },
          },
          text:
            `type eth netdev ${r.netdev} flavour pcivf controller 0 pfnum ${p.index} vfnum ${r.vf} external false splittable false\n` +
            `  function:\n    hw_addr ${r.mac}`,
        });
      }
    }
    const sel = ports.filter(
      (p) =>
        handle === undefined ||
        p.handle === handle ||
        p.attrs.netdev === handle ||
        p.handle.startsWith(`${handle}/`),
    );
    if (handle !== undefined && sel.length === 0) return fail('devlink answers: No such device');
    const o = { port: Object.fromEntries(sel.map((p) => [p.handle, p.attrs])) };
    return ok(render(json, pretty, o, sel.map((p) => `${p.handle}: ${p.text}\n`).join('')));
  }

  return fail(`Object "${obj ?? ''}" not found`);
}

/**
 * `devlink port function set <dev>/<index> hw_addr <mac>`, as the kernel's devlink core and
 * mlx5 answer it (net/devlink/port.c devlink_port_function_hw_addr_set): a port that is not
 * a VF's (the physical port) has no function to set, a multicast address is refused, and a
 * VF port's address is the VF's administrative MAC, the one `ip link show <PF>` lists.
 */
async function portFunction(
  model: DevlinkModel,
  pfs: ReturnType<DevlinkModel['pfs']>,
  rest: readonly string[],
): Promise<ToolResult> {
  const [sub, handle, ...opts] = rest;
  if (!matches(sub, 'set')) return fail(`Command "${sub ?? ''}" not found`);
  const m = /^pci\/([0-9a-f:.]+)\/(\d+)$/.exec(handle ?? '');
  const pf = pfs.find((p) => p.pci === m?.[1]);
  if (!m || !pf) return fail('devlink answers: No such device');
  const index = Number(m[2]);
  const rep = pf.reps.find((r) => repPortIndex(pf.index, r.vf) === index);
  if (index !== 65535 && !rep) return fail('devlink answers: No such device');
  let mac: string | undefined;
  for (let i = 0; i < opts.length; i += 2) {
    const key = opts[i];
    const val = opts[i + 1];
    if (matches(key, 'hw_addr')) mac = val;
    else if (matches(key, 'state') || matches(key, 'roce') || matches(key, 'migratable')) continue;
    else return fail(`Unknown option "${key ?? ''}"`);
  }
  if (mac === undefined) return ok();
  if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac)) return fail('Invalid hw address');
  if (!rep) {
    return fail(
      "Error: devlink: Port doesn't support function attributes.\nkernel answers: Operation not supported",
    );
  }
  if (parseInt(mac.slice(0, 2), 16) & 1) {
    return fail(
      'Error: devlink: Non-unicast hardware address unsupported.\nkernel answers: Cannot assign requested address',
    );
  }
  await model.setHwAddr(pf.pci, rep.vf, mac.toLowerCase());
  return ok();
}
