import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';

/**
 * `npm run build:image` (scripts/build-image.mjs, what CI builds and runs) and deploy/Dockerfile
 * (for people with Docker) describe one image: the same Debian packages, the same files at the
 * same paths, the same PATH and command, the same Node. Both are read here from their sources.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (p: string) => readFileSync(path.join(root, p), 'utf8');

const Spec = z.object({
  DEBIAN_TOOLS: z.array(z.string()),
  DEBIAN_BASE: z.array(z.string()),
  NODE_PATH: z.string(),
  APP_ROOT: z.string(),
  APP_FILES: z.record(z.string(), z.string()),
  IMAGE_PATH: z.string(),
  IMAGE_CONFIG: z.object({
    Env: z.array(z.string()),
    WorkingDir: z.string(),
    Cmd: z.array(z.string()),
  }),
  IMAGE_REPOSITORY: z.string(),
  ARCHIVE: z.string(),
  LOCK: z.string(),
});

/** scripts/image/spec.mjs, loaded by node itself (a build script, not part of src/). */
const spec = Spec.parse(
  JSON.parse(
    spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `process.stdout.write(JSON.stringify(await import(${JSON.stringify(path.join(root, 'scripts/image/spec.mjs'))})))`,
      ],
      { encoding: 'utf8' },
    ).stdout,
  ),
);

const lock = z
  .object({
    roots: z.array(z.string()),
    node: z.object({ version: z.string() }),
    packages: z.array(z.object({ name: z.string(), version: z.string() })),
  })
  .parse(JSON.parse(read(spec.LOCK)));

/** Dockerfile instructions of the last stage, continuations joined, comments dropped. */
function lastStage(text: string): { op: string; args: string }[] {
  const lines = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n');
  const out: { op: string; args: string }[] = [];
  for (const line of lines) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    if (m[1]!.toUpperCase() === 'FROM') out.length = 0;
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim() });
  }
  return out;
}

const dockerfile = read('deploy/Dockerfile');
const final = lastStage(dockerfile);
const workdir = final.find((i) => i.op === 'WORKDIR')!.args;

/** Where each final-stage COPY puts each source, as the image path spec.mjs would name it. */
const dockerInstalled = new Map<string, string>(
  final
    .filter((i) => i.op === 'COPY')
    .flatMap((i) => {
      const words = i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const dest = path.posix.resolve(workdir, words[words.length - 1]!);
      const toDir = words[words.length - 1]!.endsWith('/') || words.length > 2;
      return words.slice(0, -1).map((src): [string, string] => {
        const rel = src.replace(/^\/src\//, '');
        if (src.endsWith('/')) return [dest + '/', rel];
        return [toDir ? path.posix.join(dest, path.posix.basename(src)) : dest, rel];
      });
    }),
);

describe('the image build and deploy/Dockerfile', () => {
  it('install the same Debian packages', () => {
    const apt = final.find((i) => i.op === 'RUN' && i.args.includes('apt-get install'))!;
    const words = apt.args.split(/\s+/);
    const pkgs = words.slice(
      words.indexOf('--no-install-recommends') + 1,
      words.indexOf('&&', words.indexOf('install')),
    );
    expect(pkgs).toEqual(spec.DEBIAN_TOOLS);
    // The rest comes with the Dockerfile's Debian base image; the lock pins it for build:image.
    expect(lock.roots).toEqual([...spec.DEBIAN_TOOLS, ...spec.DEBIAN_BASE]);
    const locked = new Set(lock.packages.map((p) => p.name));
    for (const r of lock.roots) expect(locked.has(r), r).toBe(true);
    // Nothing the lock pins comes twice.
    expect(locked.size).toBe(lock.packages.length);
  });

  it('run the same Node', () => {
    const base = /^ARG NODE_IMAGE=node:(\d+\.\d+\.\d+)-bookworm-slim$/m.exec(dockerfile)?.[1];
    expect(`v${base}`).toBe(lock.node.version);
    // The official node images install it here.
    expect(spec.NODE_PATH).toBe('/usr/local/bin/node');
  });

  it('install the same files at the same paths', () => {
    expect(Object.fromEntries(dockerInstalled)).toEqual(spec.APP_FILES);
  });

  it('have the same PATH, working directory and command', () => {
    // The node images' PATH, with bin/ovs-offload's directory in front.
    const nodeImagePath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
    const env = final.find((i) => i.op === 'ENV' && i.args.startsWith('PATH='))!.args;
    expect(env.slice('PATH='.length).replace('$PATH', nodeImagePath)).toBe(spec.IMAGE_PATH);
    expect(spec.IMAGE_CONFIG.Env).toEqual([`PATH=${spec.IMAGE_PATH}`]);
    expect(workdir).toBe(spec.IMAGE_CONFIG.WorkingDir);
    const cmd = z.array(z.string()).parse(JSON.parse(final.find((i) => i.op === 'CMD')!.args));
    expect(cmd).toEqual(spec.IMAGE_CONFIG.Cmd);
    expect(spec.IMAGE_CONFIG.Cmd[0]).toBe(
      path.posix.basename(Object.keys(spec.APP_FILES).find((p) => p.endsWith('/bin/ovs-offload'))!),
    );
  });

  it('carry what the DaemonSet runs, under the name it pulls', () => {
    const ds = parseAllDocuments(read('deploy/20-daemonset.yaml'))
      .map((d) => d.toJS() as unknown)
      .map((o) =>
        z
          .object({
            kind: z.string(),
            spec: z
              .object({
                template: z.object({
                  spec: z.object({
                    containers: z.array(
                      z.object({
                        name: z.string(),
                        image: z.string(),
                        command: z.array(z.string()),
                      }),
                    ),
                    initContainers: z.array(
                      z.object({
                        name: z.string(),
                        image: z.string(),
                        command: z.array(z.string()),
                        args: z.array(z.string()),
                      }),
                    ),
                  }),
                }),
              })
              .optional(),
          })
          .parse(o),
      )
      .find((o) => o.kind === 'DaemonSet')!.spec!.template.spec;
    const version = z
      .object({ version: z.string() })
      .parse(JSON.parse(read('package.json'))).version;
    const image = `${spec.IMAGE_REPOSITORY}:${version}`;
    const agent = ds.containers.find((c) => c.name === 'agent')!;
    const init = ds.initContainers.find((c) => c.name === 'install-cni')!;
    expect(agent.image).toBe(image);
    expect(init.image).toBe(image);
    expect(Object.keys(spec.APP_FILES)).toContain(agent.command[0]);
    const cni = /src=\$\{CNI_EXECUTABLE_DIR:-([^}]+)\}/.exec(init.args[0]!)?.[1];
    expect(cni).toBeDefined();
    for (const f of ['ovs-offload-cni', 'ovs-offload-cni-node'])
      expect(Object.keys(spec.APP_FILES)).toContain(`${cni}/${f}`);
    // install-cni's shell and tools: /bin/sh (dash), cp/chmod/mv (coreutils), grep.
    expect(init.command[0]).toBe('/bin/sh');
    for (const p of ['dash', 'coreutils', 'grep']) expect(spec.DEBIAN_BASE).toContain(p);
    expect(spec.ARCHIVE).toBe('dist/image/ovs-offload.oci.tar');
  });
});
