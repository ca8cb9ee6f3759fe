import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

/**
 * deploy/Dockerfile cannot be built here (no container engine), so its structure is checked
 * instead: the base image, what the build stage copies from the checkout, and that the paths
 * the DaemonSet runs are the ones the image installs.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const dockerfile = readFileSync(path.join(root, 'deploy/Dockerfile'), 'utf8');

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** Instructions in order (continuations joined, comments and the parser directive dropped). */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  for (const line of joined.split('\n')) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') stage++;
    out.push({ op, args: m[2]!.trim(), stage });
  }
  return out;
}

const ins = instructions(dockerfile);

interface Copy {
  from: string | null;
  sources: string[];
  dest: string;
  stage: number;
}

const copies: Copy[] = ins
  .filter((i) => i.op === 'COPY')
  .map((i) => {
    const words = i.args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length) ?? null;
    const paths = words.filter((w) => !w.startsWith('--'));
    return { from, sources: paths.slice(0, -1), dest: paths[paths.length - 1]!, stage: i.stage };
  });

const workdirOf = (stage: number) =>
  ins.filter((i) => i.op === 'WORKDIR' && i.stage === stage).pop()?.args ?? '/';

/**
 * Every file or directory a stage installs, as absolute paths in that stage's image. Docker
 * copies a directory's contents into the destination, and a file into a destination ending in
 * "/" under its own name; directories are written with a trailing "/" here (checked below).
 */
function installed(stage: number): string[] {
  return copies
    .filter((c) => c.stage === stage)
    .flatMap((c) => {
      const dest = path.posix.resolve(workdirOf(stage), c.dest);
      return c.sources.map((s) =>
        s.endsWith('/') || !(c.dest.endsWith('/') || c.sources.length > 1)
          ? dest
          : path.posix.join(dest, path.posix.basename(s)),
      );
    });
}

const ds = parseAllDocuments(readFileSync(path.join(root, 'deploy/20-daemonset.yaml'), 'utf8'))
  .map((d) => d.toJS() as Record<string, unknown>)
  .find((o) => o.kind === 'DaemonSet') as {
  spec: {
    template: {
      spec: {
        containers: { name: string; command: string[] }[];
        initContainers: { name: string; args: string[] }[];
      };
    };
  };
};

describe('deploy/Dockerfile', () => {
  const lastStage = Math.max(...ins.map((i) => i.stage));

  it('builds and runs on one pinned Node 20 bookworm-slim image', () => {
    const arg = ins.find((i) => i.op === 'ARG' && i.args.startsWith('NODE_IMAGE='));
    const image = arg?.args.slice('NODE_IMAGE='.length);
    expect(image).toMatch(/^node:20\.\d+\.\d+-bookworm-slim$/);
    // package.json engines: >=20.19
    expect(Number(image!.split('.')[1])).toBeGreaterThanOrEqual(19);
    // The CNI executable embeds the build stage's node: the same image tested and shipped.
    expect(ins.filter((i) => i.op === 'FROM').map((i) => i.args.split(/\s+/)[0])).toEqual(
      Array(lastStage + 1).fill('${NODE_IMAGE}'),
    );
  });

  it('copies only files that exist in the checkout and are not dockerignored', () => {
    const ignored = readFileSync(path.join(root, 'deploy/Dockerfile.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const local = copies.filter((c) => c.from === null).flatMap((c) => c.sources);
    expect(local.length).toBeGreaterThan(0);
    for (const s of local) {
      expect(existsSync(path.join(root, s)), s).toBe(true);
      expect(statSync(path.join(root, s)).isDirectory(), `${s}: directories end in "/"`).toBe(
        s.endsWith('/'),
      );
      expect(ignored, s).not.toContain(s.replace(/\/$/, '').split('/')[0]);
    }
  });

  it('takes from the build stage only what it copied in or built there', () => {
    const buildDir = workdirOf(0);
    const copiedIn = installed(0);
    const run = ins
      .filter((i) => i.op === 'RUN' && i.stage === 0)
      .map((i) => i.args)
      .join(' ');
    expect(run).toContain('npm ci');
    // build-cni-executable.mjs runs scripts/build.mjs first (no --no-build here).
    expect(run).toMatch(/node scripts\/build-cni-executable\.mjs(?! --no-build)/);
    const buildScript = readFileSync(path.join(root, 'scripts/build.mjs'), 'utf8');
    const built = new Map<string, boolean>([
      ['node_modules', true],
      ['dist/cli.js', buildScript.includes("'/cli.js'")],
      ['dist/cli.js.map', buildScript.includes("'/cli.js'") && buildScript.includes('sourcemap')],
      ['dist/ovs-offload-cni', buildScript.includes("'/ovs-offload-cni'")],
      [
        'dist/sea/ovs-offload-cni-node',
        readFileSync(path.join(root, 'scripts/build-cni-executable.mjs'), 'utf8').includes(
          "'dist', 'sea', 'ovs-offload-cni-node'",
        ),
      ],
    ]);
    for (const c of copies.filter((x) => x.from === 'build')) {
      for (const s of c.sources) {
        const rel = path.posix.relative(buildDir, s.replace(/\/$/, ''));
        const fromCheckout = copiedIn.some((p) => s === p || s.startsWith(p + '/'));
        expect(fromCheckout || built.get(rel) === true, s).toBe(true);
      }
    }
  });

  it('installs the host tools the agent runs', () => {
    const apt = ins.find(
      (i) => i.op === 'RUN' && i.stage === lastStage && /apt-get install/.test(i.args),
    );
    for (const pkg of ['iproute2', 'ethtool', 'openvswitch-common', 'util-linux']) {
      expect(apt?.args.split(/\s+/), pkg).toContain(pkg);
    }
  });

  it('installs what the DaemonSet runs, where it runs it', () => {
    const files = installed(lastStage);
    const spec = ds.spec.template.spec;
    const agent = spec.containers.find((c) => c.name === 'agent')!;
    const exe = agent.command[0]!;
    expect(files).toContain(exe);
    // bin/ovs-offload starts ../dist/cli.js (dependencies bundled); the package root holds
    // package.json and proto/.
    const pkgRoot = path.posix.dirname(path.posix.dirname(exe));
    for (const p of ['dist/cli.js', 'package.json', 'proto']) {
      expect(files, p).toContain(path.posix.join(pkgRoot, p));
    }
    expect(readFileSync(path.join(root, 'bin/ovs-offload'), 'utf8')).toContain('../dist/cli.js');
    const script = spec.initContainers.find((c) => c.name === 'install-cni')!.args[0]!;
    const src = /src=\$\{CNI_EXECUTABLE_DIR:-([^}]+)\}/.exec(script)?.[1];
    expect(src).toBeDefined();
    for (const f of ['ovs-offload-cni', 'ovs-offload-cni-node'])
      expect(files).toContain(`${src}/${f}`);
  });
});
