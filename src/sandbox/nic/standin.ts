// Deep imports, not the sys barrel: a stand-in runs on every devlink/ip call and must not
// load execa, pino or zod to do it.
import { errorMessage } from '../../sys/errors.js';
import { runCaptureSync, runInheritSync } from '../../sys/exec-sync.js';
import { requestJsonLine } from '../../sys/jsonline-socket.js';
import { parseIpArgv } from './ipvf.js';
import type { ToolResult } from './protocol.js';

/**
 * The devlink / ip / ethtool stand-ins the sandbox puts first on PATH:
 *   node nic-standin.js <tool> <nicd.sock> <real binary> ARGS…
 * Emulated calls are answered by the NIC daemon; anything else runs the real binary here,
 * in the caller's own netns.
 */
function passthrough(real: string, argv: string[]): number {
  return runInheritSync([real, ...argv]);
}

function emit(r: ToolResult): number {
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.code;
}

async function ipShow(sock: string, real: string, argv: string[]): Promise<number> {
  const parsed = parseIpArgv(argv);
  const r = runCaptureSync([real, ...argv]);
  if (r.code !== 0) {
    process.stderr.write(r.stderr);
    return r.code;
  }
  if (parsed.global.json) {
    const links = JSON.parse(r.stdout || '[]') as Record<string, unknown>[];
    for (const l of links) {
      const info = (await requestJsonLine(sock, { op: 'vfinfo', pf: l.ifname })) as {
        json: unknown[];
      } | null;
      if (info && info.json.length > 0) l.vfinfo_list = info.json;
    }
    process.stdout.write(
      (parsed.global.pretty ? JSON.stringify(links, null, 4) : JSON.stringify(links)) + '\n',
    );
    return 0;
  }
  // Text: VF lines follow the link's own lines, before the next "N: name:" header.
  const out: string[] = [];
  let pending: string[] = [];
  const flush = () => {
    out.push(...pending);
    pending = [];
  };
  for (const line of r.stdout.split('\n')) {
    const m = /^\d+: ([^:@]+)[:@]/.exec(line);
    if (m) {
      flush();
      const info = (await requestJsonLine(sock, { op: 'vfinfo', pf: m[1] })) as {
        text: string[];
      } | null;
      out.push(line);
      pending = info?.text ?? [];
      continue;
    }
    if (line === '' && pending.length > 0) flush();
    out.push(line);
  }
  flush();
  process.stdout.write(out.join('\n'));
  return 0;
}

async function main(): Promise<number> {
  const [, , tool, sock, real, ...argv] = process.argv;
  if (!tool || !sock || !real) throw new Error('usage: nic-standin <tool> <sock> <real> ARGS…');
  if (tool === 'devlink')
    return emit((await requestJsonLine(sock, { op: 'devlink', argv })) as ToolResult);
  if (tool === 'ethtool') {
    const r = (await requestJsonLine(sock, { op: 'ethtool', argv })) as ToolResult;
    return r.passthrough ? passthrough(real, argv) : emit(r);
  }
  if (tool === 'ip') {
    const { words } = parseIpArgv(argv);
    const isShow =
      (words[0] === 'link' || words[0] === 'l') &&
      (words[1] === undefined || words[1] === 'show' || words[1] === 'list' || words[1] === 'ls');
    if (isShow) return ipShow(sock, real, argv);
    const r = (await requestJsonLine(sock, { op: 'ip', argv })) as ToolResult;
    return r.passthrough ? passthrough(real, argv) : emit(r);
  }
  throw new Error(`unknown tool ${tool}`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`sandbox stand-in: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
