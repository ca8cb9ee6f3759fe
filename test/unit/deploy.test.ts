import * as k8s from '@kubernetes/client-node';
import { execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ServiceAccount, ConfigMap, Pod } from 'kubernetes-models/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parseAgentConfig, type AgentConfig } from '../../src/agent/config.js';
import { parseNetConf } from '../../src/cni/netconf.js';
import { isSupported } from '../../src/cni/version.js';
import { parseSriovDpConfig, type ResourceConfig } from '../../src/deviceplugin/index.js';

/**
 * deploy/: every manifest against the Kubernetes schemas (kubernetes-models: types, enums,
 * required fields; @kubernetes/client-node's generated models: unknown fields, which the
 * API server rejects under kubectl's strict field validation), the ConfigMaps through our own
 * config parsers, the NADs through our CNI schema, and the wiring between them all.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const deployDir = path.join(root, 'deploy');

interface Doc {
  file: string;
  index: number;
  obj: Record<string, unknown> & { apiVersion: string; kind: string };
}

function yamlFiles(dir: string, recursive: boolean): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) return recursive ? yamlFiles(p, true) : [];
      return /\.(ya?ml|json)$/.test(e.name) ? [p] : [];
    })
    .sort();
}

function loadDocs(files: string[]): Doc[] {
  return files.flatMap((file) =>
    parseAllDocuments(readFileSync(file, 'utf8')).flatMap((d, index) => {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map(String).join('; ')}`);
      const obj: unknown = d.toJS();
      if (obj === null || obj === undefined) return [];
      return [{ file: path.relative(root, file), index, obj: obj as Doc['obj'] }];
    }),
  );
}

const allDocs = loadDocs(yamlFiles(deployDir, true));
const topDocs = loadDocs(yamlFiles(deployDir, false));

function one<T = Doc['obj']>(kind: string, name?: string): T {
  const found = allDocs.filter(
    (d) => d.obj.kind === kind && (name === undefined || meta(d.obj).name === name),
  );
  expect(found, `${kind} ${name ?? ''}`).toHaveLength(1);
  return found[0]!.obj as unknown as T;
}

function meta(
  o: Record<string, unknown>,
): { name: string; namespace?: string } & Record<string, unknown> {
  return o.metadata as { name: string; namespace?: string };
}

// ---- schema validation -----------------------------------------------------------------

/** The kubernetes-models class for each kind we ship; its validate() runs the upstream schema. */
function model(o: Doc['obj']): { validate(): void } | undefined {
  const data = o as never;
  switch (`${o.apiVersion}/${o.kind}`) {
    case 'v1/ServiceAccount':
      return new ServiceAccount(data);
    case 'v1/ConfigMap':
      return new ConfigMap(data);
    case 'v1/Pod':
      return new Pod(data);
    case 'apps/v1/DaemonSet':
      return new DaemonSet(data);
    case 'rbac.authorization.k8s.io/v1/ClusterRole':
      return new ClusterRole(data);
    case 'rbac.authorization.k8s.io/v1/ClusterRoleBinding':
      return new ClusterRoleBinding(data);
    default:
      return undefined;
  }
}

type AttributeMap = { baseName: string; type: string }[];
const clientModels = k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeMap }>;

/** Paths of fields the generated API models do not know (a typo such as `hostNetwrok`). */
function unknownFields(value: unknown, type: string, at: string): string[] {
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) {
    return Array.isArray(value)
      ? value.flatMap((v, i) => unknownFields(v, arr[1]!, `${at}[${i}]`))
      : [];
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    return value !== null && typeof value === 'object'
      ? Object.entries(value).flatMap(([k, v]) => unknownFields(v, map[1]!, `${at}.${k}`))
      : [];
  }
  const attrs = clientModels[type]?.getAttributeTypeMap?.();
  if (!attrs || value === null || typeof value !== 'object') return [];
  const known = new Map(attrs.map((a) => [a.baseName, a.type]));
  return Object.entries(value).flatMap(([k, v]) => {
    const t = known.get(k);
    return t === undefined ? [`${at}.${k}`] : unknownFields(v, t, `${at}.${k}`);
  });
}

/** NetworkAttachmentDefinition is Multus's CRD (k8s.cni.cncf.io/v1): spec has one string. */
function nadShapeProblems(o: Doc['obj']): string[] {
  const problems = Object.keys(o)
    .filter((k) => !['apiVersion', 'kind', 'metadata', 'spec'].includes(k))
    .map((k) => `unknown field ${k}`);
  problems.push(...unknownFields(o.metadata, 'V1ObjectMeta', 'metadata'));
  const spec = o.spec as Record<string, unknown> | undefined;
  if (typeof spec?.config !== 'string') problems.push('spec.config: must be a string');
  for (const k of Object.keys(spec ?? {})) if (k !== 'config') problems.push(`spec.${k}: unknown`);
  return problems;
}

describe('deploy/ manifests', () => {
  it('are found', () => {
    expect(topDocs.map((d) => d.obj.kind).sort()).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'ConfigMap',
      'DaemonSet',
      'ServiceAccount',
    ]);
    expect(allDocs.filter((d) => d.obj.kind === 'NetworkAttachmentDefinition').length).toBe(3);
  });

  it.each(allDocs.map((d) => [`${d.file}#${d.index} ${d.obj.kind}`, d] as const))(
    '%s validates against the Kubernetes schema',
    (_name, d) => {
      if (d.obj.kind === 'NetworkAttachmentDefinition') {
        expect(d.obj.apiVersion).toBe('k8s.cni.cncf.io/v1');
        expect(nadShapeProblems(d.obj)).toEqual([]);
        return;
      }
      const m = model(d.obj);
      expect(m, `no schema model for ${d.obj.apiVersion} ${d.obj.kind}`).toBeDefined();
      expect(() => m!.validate()).not.toThrow();
      const version = d.obj.apiVersion.split('/').pop()!;
      const type = `${version[0]!.toUpperCase()}${version.slice(1)}${d.obj.kind}`;
      expect(clientModels[type]?.getAttributeTypeMap, type).toBeDefined();
      expect(unknownFields(d.obj, type, d.obj.kind)).toEqual([]);
    },
  );

  it('the validators catch what they are here for', () => {
    const ds = structuredClone(one('DaemonSet'));
    const spec = (ds.spec as { template: { spec: Record<string, unknown> } }).template.spec;
    spec.hostNetwrok = true;
    expect(unknownFields(ds, 'V1DaemonSet', 'DaemonSet')).toEqual([
      'DaemonSet.spec.template.spec.hostNetwrok',
    ]);
    delete spec.hostNetwrok;
    (spec.volumes as { hostPath?: { type: string } }[]).find((v) => v.hostPath)!.hostPath!.type =
      'Dir';
    expect(() => new DaemonSet(ds as never).validate()).toThrow(/hostPath\/type/);
  });

  it('have unique names', () => {
    const ids = allDocs.map(
      (d) => `${d.obj.kind}/${meta(d.obj).namespace ?? ''}/${meta(d.obj).name}`,
    );
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('Kustomization lists exactly the files `kubectl apply -f deploy/` applies', () => {
    const k = parseYaml(readFileSync(path.join(deployDir, 'Kustomization'), 'utf8')) as {
      kind: string;
      resources: string[];
      images: { name: string; newTag: string }[];
    };
    expect(k.kind).toBe('Kustomization');
    expect([...k.resources].sort()).toEqual(
      yamlFiles(deployDir, false).map((f) => path.basename(f)),
    );
    const image = (one('DaemonSet').spec as DsSpec).template.spec.containers[0]!.image;
    expect(k.images.map((i) => `${i.name}:${i.newTag}`)).toEqual([image]);
  });
});

// ---- RBAC and the DaemonSet -----------------------------------------------------------

interface Mount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  mountPropagation?: string;
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  volumeMounts?: Mount[];
  securityContext?: { privileged?: boolean };
  resources?: { requests?: Record<string, string> };
  livenessProbe?: { httpGet?: { host?: string; path: string; port: number } };
  readinessProbe?: { httpGet?: { host?: string; path: string; port: number } };
  startupProbe?: { httpGet?: { host?: string; path: string; port: number } };
}
interface DsSpec {
  template: {
    spec: {
      serviceAccountName: string;
      hostNetwork?: boolean;
      hostPID?: boolean;
      initContainers: Container[];
      containers: Container[];
      volumes: {
        name: string;
        hostPath?: { path: string };
        configMap?: { name: string };
      }[];
    };
  };
}

const ds = one('DaemonSet');
const pod = (ds.spec as DsSpec).template.spec;
const agent = pod.containers.find((c) => c.name === 'agent')!;
const installer = pod.initContainers.find((c) => c.name === 'install-cni')!;

/** The host path a container path reaches through the mounts, or null. */
function hostPathOf(c: Container, p: string): string | null {
  const mounts = (c.volumeMounts ?? [])
    .filter((m) => p === m.mountPath || p.startsWith(m.mountPath + '/'))
    .sort((a, b) => b.mountPath.length - a.mountPath.length);
  const m = mounts[0];
  if (!m) return null;
  const hp = pod.volumes.find((v) => v.name === m.name)?.hostPath?.path;
  return hp === undefined ? null : hp + p.slice(m.mountPath.length);
}

function configMapData(name: string): Record<string, string> {
  return one('ConfigMap', name).data as Record<string, string>;
}

/** The file a container sees at `p` when it comes from a ConfigMap volume: its text. */
function configFile(c: Container, p: string): string {
  const m = (c.volumeMounts ?? []).find((v) => path.dirname(p) === v.mountPath);
  expect(m, `${p} is not mounted`).toBeDefined();
  const cm = pod.volumes.find((v) => v.name === m!.name)?.configMap?.name;
  expect(cm, `${p} is not from a ConfigMap`).toBeDefined();
  const text = configMapData(cm!)[path.basename(p)];
  expect(text, `ConfigMap ${cm} has no key ${path.basename(p)}`).toBeDefined();
  return text!;
}

const configPath = agent.command![agent.command!.indexOf('--config') + 1]!;
const agentConfig: AgentConfig = parseAgentConfig(
  parseYaml(configFile(agent, configPath)),
  'deploy ConfigMap agent.yaml',
);

describe('RBAC', () => {
  it('binds the DaemonSet ServiceAccount to get/list/watch/patch on pods, get on Kube-OVN subnets, and nothing more', () => {
    const sa = one('ServiceAccount');
    expect(pod.serviceAccountName).toBe(meta(sa).name);
    const binding = one<{
      roleRef: { kind: string; name: string };
      subjects: { kind: string; name: string; namespace: string }[];
    }>('ClusterRoleBinding');
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: meta(sa).name, namespace: meta(ds).namespace },
    ]);
    const role = one<{ rules: unknown[] }>('ClusterRole', binding.roleRef.name);
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'patch'] },
      // Kube-OVN Subnet spec.mtu (the pod's MTU)
      { apiGroups: ['kubeovn.io'], resources: ['subnets'], verbs: ['get'] },
    ]);
  });
});

describe('DaemonSet', () => {
  it('runs privileged in the host network and PID namespaces', () => {
    expect(pod.hostNetwork).toBe(true);
    expect(pod.hostPID).toBe(true);
    expect(agent.securityContext?.privileged).toBe(true);
    expect(Object.keys(agent.resources?.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
  });

  it('mounts every host directory the agent works in, at the same path', () => {
    for (const p of [
      '/sys',
      '/var/lib/kubelet/device-plugins',
      '/var/lib/kubelet/plugins_registry',
      '/run/openvswitch',
      '/var/run/netns',
      '/opt/cni/bin',
      '/var/lib/cni',
      '/var/lib/ovs-offload',
      '/var/run/k8s.cni.cncf.io',
      '/run/ovs-offload',
    ]) {
      expect(hostPathOf(agent, p), p).toBe(p);
    }
    // Pod netns are bind mounts made after the agent started.
    expect(
      agent.volumeMounts!.find((m) => m.mountPath === '/var/run/netns')?.mountPropagation,
    ).toBe('HostToContainer');
  });

  it('every mount names a volume', () => {
    for (const c of [...pod.initContainers, ...pod.containers]) {
      for (const m of c.volumeMounts ?? []) {
        expect(
          pod.volumes.map((v) => v.name),
          `${c.name}: ${m.name}`,
        ).toContain(m.name);
      }
    }
  });

  it('gives the agent the paths its config names, from the host', () => {
    const c = agentConfig;
    expect(c.sysfsRoot).toBe('/');
    expect(hostPathOf(agent, c.stateDir)).toBe(c.stateDir);
    expect(hostPathOf(agent, c.cni.socket)).toBe(c.cni.socket);
    const db = c.ovs.db.replace(/^unix:/, '');
    // /var/run is /run in the image (Debian), as on the hosts Kube-OVN runs on.
    expect(hostPathOf(agent, db.replace(/^\/var\/run\//, '/run/'))).toBe(
      db.replace(/^\/var\/run\//, '/run/'),
    );
    expect(hostPathOf(agent, path.join(c.devicePlugin!.kubeletDir, 'device-plugins'))).toBe(
      '/var/lib/kubelet/device-plugins',
    );
    expect(hostPathOf(agent, c.devicePlugin!.devinfoDir)).toBe(c.devicePlugin!.devinfoDir);
    expect(c.kubernetes).toBeDefined();
  });

  it('takes NODE_NAME from the downward API', () => {
    expect(agent.env?.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe(
      'spec.nodeName',
    );
  });

  it('probes the metrics listener: readiness and start-up /healthz, liveness /livez', () => {
    const [host, port] = agentConfig.metrics.listen!.split(':');
    for (const probe of [agent.readinessProbe, agent.startupProbe]) {
      expect(probe?.httpGet).toEqual({ host, path: '/healthz', port: Number(port) });
    }
    expect(agent.livenessProbe?.httpGet).toEqual({ host, path: '/livez', port: Number(port) });
  });

  it('runs both containers from one image, tagged with the package version', () => {
    const version = (
      JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
    expect(agent.image.endsWith(`:${version}`)).toBe(true);
    expect(installer.image).toBe(agent.image);
  });
});

// ---- the install-cni script, run for real on temp directories ---------------------------

describe('install-cni init container', () => {
  const run = promisify(execFile);
  const script = installer.args![0]!;
  const tmp = mkdtempSync(path.join(tmpdir(), 'oo-deploy-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  function layout(name: string, versionExit = 0) {
    const dir = path.join(tmp, name);
    const bin = path.join(dir, 'opt/cni/bin');
    const netd = path.join(dir, 'etc/cni/net.d');
    mkdirSync(bin, { recursive: true });
    mkdirSync(netd, { recursive: true });
    // The image's pair: the compiled front end hands VERSION to the Node one beside it.
    const image = path.join(dir, 'image');
    mkdirSync(image);
    const exe = path.join(image, 'ovs-offload-cni');
    const node = path.join(image, 'ovs-offload-cni-node');
    writeFileSync(exe, `#!/bin/sh\nexec "$(dirname "$0")/ovs-offload-cni-node"\n`);
    writeFileSync(
      node,
      `#!/bin/sh\n[ "$CNI_COMMAND" = VERSION ] || exit 9\necho '{"cniVersion":"1.1.0","supportedVersions":["1.1.0"]}'\nexit ${versionExit}\n`,
    );
    chmodSync(exe, 0o755);
    chmodSync(node, 0o755);
    const env = {
      PATH: process.env.PATH,
      CNI_EXECUTABLE_DIR: image,
      CNI_BIN_DIR: bin,
      CNI_CONF_DIR: netd,
    };
    return { bin, netd, exe, node, env };
  }

  it('installs the executable by rename, over a running copy, and checks it answers', async () => {
    const l = layout('busy');
    writeFileSync(path.join(l.netd, '00-multus.conf'), '{ "type": "multus-shim" }');
    // A running ELF executable at the target: writing into it would fail with ETXTBSY.
    const target = path.join(l.bin, 'ovs-offload-cni');
    copyFileSync('/bin/sleep', target);
    chmodSync(target, 0o755);
    const old = spawn(target, ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 100));
      const r = await run('/bin/sh', ['-c', script], { env: l.env });
      expect(r.stdout).toContain('"supportedVersions"');
      expect(r.stderr).toBe('');
      expect(readFileSync(target)).toEqual(readFileSync(l.exe));
      expect(readFileSync(path.join(l.bin, 'ovs-offload-cni-node'))).toEqual(readFileSync(l.node));
      expect(statSync(target).mode & 0o777).toBe(0o755);
      expect(statSync(path.join(l.bin, 'ovs-offload-cni-node')).mode & 0o777).toBe(0o755);
      expect(readdirSync(l.bin).sort()).toEqual(['ovs-offload-cni', 'ovs-offload-cni-node']);
    } finally {
      old.kill();
    }
  });

  it('warns when the node has no Multus', async () => {
    const l = layout('nomultus');
    writeFileSync(path.join(l.netd, '01-kube-ovn.conflist'), '{"plugins":[{"type":"kube-ovn"}]}');
    const r = await run('/bin/sh', ['-c', script], { env: l.env });
    expect(r.stderr).toMatch(/no Multus configuration/);
  });

  it('fails, leaving nothing half-installed, when the executable does not answer', async () => {
    const l = layout('broken', 1);
    await expect(run('/bin/sh', ['-c', script], { env: l.env })).rejects.toThrow();
    // The files are in place (the renames happened) but the pod does not start: the kubelet
    // retries the init container, and no temp file is left behind.
    expect(readdirSync(l.bin).sort()).toEqual(['ovs-offload-cni', 'ovs-offload-cni-node']);
  });
});

// ---- ConfigMaps through our own parsers -------------------------------------------------

const dpConfigText = configFile(agent, agentConfig.devicePlugin!.configFile!);
const pools = parseSriovDpConfig(dpConfigText, {
  defaultPrefix: agentConfig.devicePlugin!.resourcePrefix,
  source: 'deploy ConfigMap config.json',
});

describe('ConfigMaps', () => {
  it('the agent config parses with the agent schema and names its PFs by PCI address', () => {
    expect(agentConfig.nics.length).toBeGreaterThan(0);
    for (const n of agentConfig.nics) expect(n.pci).toMatch(/^[0-9a-f]{4}:/);
    expect(agentConfig.ovs.hwOffload).toBe(true);
  });

  it('the device plugin config parses with the sriov-network-device-plugin schema', () => {
    expect(pools.warnings).toEqual([]);
    expect(pools.resources.map((r) => [r.fullName, r.requireSwitchdev])).toEqual([
      ['intel.com/mlx_offload', true],
      ['intel.com/sriov_legacy', false],
    ]);
  });

  it('pools VFs only of PFs the agent manages, switchdev pools on switchdev PFs', () => {
    for (const r of pools.resources) {
      const roots = r.selectors.flatMap((s) => s.rootDevices.map((d) => d.name));
      expect(roots.length, r.fullName).toBeGreaterThan(0);
      for (const pci of roots) {
        const nic = agentConfig.nics.find((n) => n.pci === pci);
        expect(nic, `${r.fullName}: ${pci} is not in nics[]`).toBeDefined();
        expect(nic!.eswitchMode === 'switchdev', `${r.fullName} on ${pci}`).toBe(
          r.requireSwitchdev,
        );
      }
    }
  });
});

// ---- NetworkAttachmentDefinitions through our CNI schema --------------------------------

interface ConfList {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

const nads = allDocs.filter((d) => d.obj.kind === 'NetworkAttachmentDefinition');

describe.each(nads.map((d) => [`${d.file} ${meta(d.obj).name}`, d] as const))('NAD %s', (_n, d) => {
  const m = meta(d.obj);
  const list = JSON.parse((d.obj.spec as { config: string }).config) as ConfList;
  const resource = (m.annotations as Record<string, string> | undefined)?.[
    'k8s.v1.cni.cncf.io/resourceName'
  ];

  it('is a conflist with ovs-offload-cni first, then chained plugins', () => {
    expect(Object.keys(list).sort()).toEqual(['cniVersion', 'name', 'plugins']);
    expect(isSupported(list.cniVersion)).toBe(true);
    expect(list.name).toBe(m.name);
    expect(list.plugins.length).toBeGreaterThan(0);
    expect(list.plugins[0]!.type).toBe('ovs-offload-cni');
    for (const p of list.plugins.slice(1)) {
      expect(typeof p.type).toBe('string');
      expect(p.type).not.toBe('ovs-offload-cni');
    }
  });

  it('passes our NetConf schema as the runtime hands it over, naming the agent socket', () => {
    // libcni gives each plugin of a list the list's name and cniVersion.
    const conf = parseNetConf({ ...list.plugins[0], name: list.name, cniVersion: list.cniVersion });
    expect(conf.server_socket).toBe(agentConfig.cni.socket);
    if (conf.provider !== undefined && conf.provider !== 'ovn') {
      // Kube-OVN binds <pod>.<ns>.<provider> only for the provider named after this NAD.
      expect(conf.provider).toBe(`${m.name}.${m.namespace ?? 'default'}.ovn`);
    }
    if (conf.ipam === undefined) expect(agentConfig.kubernetes).toBeDefined();
  });

  it('asks for a device plugin pool that fits its mode', () => {
    const conf = parseNetConf({ ...list.plugins[0], name: list.name, cniVersion: list.cniVersion });
    const pool: ResourceConfig | undefined = pools.resources.find((r) => r.fullName === resource);
    expect(pool, `resourceName ${resource}`).toBeDefined();
    // A legacy NAD on a switchdev-only pool never gets a healthy VF; an offload NAD on a pool
    // that allows legacy PFs would silently fall back to legacy (mode auto).
    expect(pool!.requireSwitchdev).toBe(conf.mode !== 'legacy');
  });
});

describe('example pod', () => {
  it('requests the pool of the NAD it attaches', () => {
    const p = one<{
      metadata: { annotations: Record<string, string> };
      spec: {
        containers: {
          resources: { requests: Record<string, string>; limits: Record<string, string> };
        }[];
      };
    }>('Pod');
    const netName = p.metadata.annotations['k8s.v1.cni.cncf.io/networks']!;
    const nad = nads.find((d) => meta(d.obj).name === netName);
    expect(nad, netName).toBeDefined();
    const res = (meta(nad!.obj).annotations as Record<string, string>)[
      'k8s.v1.cni.cncf.io/resourceName'
    ]!;
    expect(p.spec.containers[0]!.resources.requests[res]).toBe('1');
    expect(p.spec.containers[0]!.resources.limits[res]).toBe('1');
  });
});
