import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/**
 * deploy/20-daemonset.yaml translated to CRI field by field, the way kubelet does it
 * (kuberuntime_sandbox.go / kuberuntime_container_linux.go), so a change to the manifest is
 * what the test runs. Anything in the manifest this translation does not know fails loudly
 * rather than being dropped.
 */

type Obj = Record<string, unknown>;
const obj = (v: unknown, what: string): Obj => {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new Error(`${what}: not an object`);
  return v as Obj;
};
const list = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

export interface ParsedDaemonSet {
  podSpec: Obj;
  /** The pod template's containers by name (init containers first). */
  initContainers: Obj[];
  containers: Obj[];
  volumes: Map<string, Obj>;
}

/** Every YAML document of a file (a manifest may hold several). */
export function readManifests(file: string): Obj[] {
  return readFileSync(file, 'utf8')
    .split(/^---$/m)
    .map((d) => parse(d) as unknown)
    .filter((d): d is Obj => typeof d === 'object' && d !== null);
}

export function parseDaemonSet(file: string): ParsedDaemonSet {
  const ds = readManifests(file).find((d) => d.kind === 'DaemonSet');
  if (!ds) throw new Error(`${file}: no DaemonSet`);
  const podSpec = obj(obj(obj(ds.spec, 'spec').template, 'spec.template').spec, 'pod spec');
  const volumes = new Map(list(podSpec.volumes).map((v) => [v.name as string, v]));
  return {
    podSpec,
    initContainers: list(podSpec.initContainers),
    containers: list(podSpec.containers),
    volumes,
  };
}

/** The ConfigMap `data` of a manifest file, by ConfigMap name. */
export function configMapData(file: string): Map<string, Record<string, string>> {
  return new Map(
    readManifests(file)
      .filter((d) => d.kind === 'ConfigMap')
      .map((d) => [
        obj(d.metadata, 'metadata').name as string,
        obj(d.data, 'data') as Record<string, string>,
      ]),
  );
}

/** Kubernetes quantities as kubelet hands them to CRI: bytes, or millicores. */
export function quantity(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
  if (!m) throw new Error(`quantity ${q}: not understood`);
  const n = Number(m[1]);
  const unit = m[2] ?? '';
  const mult: Record<string, number> = {
    '': 1,
    m: 1e-3,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return n * mult[unit]!;
}

export function namespaceOptions(podSpec: Obj): Obj {
  return {
    network: podSpec.hostNetwork === true ? 'NODE' : 'POD',
    pid: podSpec.hostPID === true ? 'NODE' : podSpec.shareProcessNamespace ? 'POD' : 'CONTAINER',
    ipc: podSpec.hostIPC === true ? 'NODE' : 'POD',
  };
}

/** kubelet: a pod with any privileged container gets a privileged sandbox. */
function anyPrivileged(p: ParsedDaemonSet): boolean {
  return [...p.initContainers, ...p.containers].some(
    (c) => (c.securityContext as Obj | undefined)?.privileged === true,
  );
}

export function podSandboxConfig(
  p: ParsedDaemonSet,
  meta: { name: string; namespace: string; uid: string; logDirectory: string },
): Obj {
  return {
    metadata: { name: meta.name, namespace: meta.namespace, uid: meta.uid, attempt: 0 },
    log_directory: meta.logDirectory,
    labels: { 'io.kubernetes.pod.name': meta.name, 'io.kubernetes.pod.namespace': meta.namespace },
    linux: {
      security_context: {
        namespace_options: namespaceOptions(p.podSpec),
        privileged: anyPrivileged(p),
      },
    },
  };
}

/** Where the node keeps a volume: a host dir for each hostPath and ConfigMap volume. */
export interface VolumeSources {
  hostPath(volume: string, path: string): string;
  configMap(volume: string, name: string): string;
}

const PROPAGATION: Record<string, string> = {
  None: 'PROPAGATION_PRIVATE',
  HostToContainer: 'PROPAGATION_HOST_TO_CONTAINER',
  Bidirectional: 'PROPAGATION_BIDIRECTIONAL',
};

export function containerConfig(
  p: ParsedDaemonSet,
  c: Obj,
  o: {
    sources: VolumeSources;
    fieldRefs: Record<string, string>;
    /** Env a node differs in (PATH for the NIC stand-ins): appended, and it wins. */
    extraEnv?: Record<string, string>;
    /** Mounts a node differs in (what the NIC stand-ins need). */
    extraMounts?: Obj[];
    logPath: string;
    image?: string;
  },
): Obj {
  const envs: Obj[] = [];
  // KeyValue.value is `bytes` in the current api.proto (`string` in 1.6's copy): the same
  // length-delimited bytes on the wire.
  const env = (key: unknown, value: string) => envs.push({ key, value: Buffer.from(value) });
  for (const e of list(c.env)) {
    if (typeof e.value === 'string') env(e.name, e.value);
    else {
      const path = obj(obj(e.valueFrom, `env ${String(e.name)}`).fieldRef, 'fieldRef')
        .fieldPath as string;
      const v = o.fieldRefs[path];
      if (v === undefined) throw new Error(`env ${String(e.name)}: fieldRef ${path} not provided`);
      env(e.name, v);
    }
  }
  for (const [k, v] of Object.entries(o.extraEnv ?? {})) env(k, v);
  const mounts: Obj[] = list(c.volumeMounts).map((m) => {
    const vol = p.volumes.get(m.name as string);
    if (!vol) throw new Error(`volumeMount ${String(m.name)}: no such volume`);
    let host: string;
    if (vol.hostPath)
      host = o.sources.hostPath(vol.name as string, obj(vol.hostPath, 'hostPath').path as string);
    else if (vol.configMap)
      host = o.sources.configMap(
        vol.name as string,
        obj(vol.configMap, 'configMap').name as string,
      );
    else throw new Error(`volume ${String(vol.name)}: kind not translated`);
    const prop = (m.mountPropagation as string | undefined) ?? 'None';
    if (!PROPAGATION[prop]) throw new Error(`mountPropagation ${prop}: unknown`);
    return {
      container_path: m.mountPath,
      host_path: host,
      readonly: m.readOnly === true,
      propagation: PROPAGATION[prop],
    };
  });
  mounts.push(...(o.extraMounts ?? []));
  const sc = (c.securityContext as Obj | undefined) ?? {};
  const caps = (sc.capabilities as Obj | undefined) ?? {};
  const se = sc.seLinuxOptions as Obj | undefined;
  const res = (c.resources as Obj | undefined) ?? {};
  const limits = (res.limits as Record<string, string> | undefined) ?? {};
  const requests = (res.requests as Record<string, string> | undefined) ?? {};
  const resources: Obj = {};
  if (limits.memory) resources.memory_limit_in_bytes = quantity(limits.memory);
  // kubelet: cpu.shares from the request (milliCPU * 1024 / 1000, at least 2).
  if (requests.cpu) resources.cpu_shares = Math.max(2, Math.round(quantity(requests.cpu) * 1024));
  // system-node-critical pods: kubelet's oom_score_adj -997 (restrict_oom_score_adj clamps it).
  if (p.podSpec.priorityClassName === 'system-node-critical') resources.oom_score_adj = -997;
  return {
    metadata: { name: c.name, attempt: 0 },
    image: { image: o.image ?? c.image },
    command: list(c.command).map(String),
    args: list(c.args).map(String),
    working_dir: c.workingDir ?? '',
    envs,
    mounts,
    log_path: o.logPath,
    linux: {
      resources,
      security_context: {
        privileged: sc.privileged === true,
        namespace_options: namespaceOptions(p.podSpec),
        ...(sc.runAsUser !== undefined ? { run_as_user: { value: sc.runAsUser } } : {}),
        ...(sc.allowPrivilegeEscalation === false ? { no_new_privs: true } : {}),
        ...(caps.add || caps.drop
          ? {
              capabilities: {
                add_capabilities: (caps.add as string[] | undefined) ?? [],
                drop_capabilities: (caps.drop as string[] | undefined) ?? [],
              },
            }
          : {}),
        ...(se
          ? {
              selinux_options: {
                user: se.user ?? '',
                role: se.role ?? '',
                type: se.type ?? '',
                level: se.level ?? '',
              },
            }
          : {}),
      },
    },
  };
}

/** The httpGet of a container's probe: host, port and path as the manifest asks. */
export function httpProbe(c: Obj, which: 'startupProbe' | 'livenessProbe' | 'readinessProbe') {
  const probe = obj(c[which], which);
  const get = obj(probe.httpGet, `${which}.httpGet`);
  return {
    url: `http://${(get.host as string | undefined) ?? '127.0.0.1'}:${String(get.port)}${String(get.path)}`,
    periodSeconds: (probe.periodSeconds as number | undefined) ?? 10,
    timeoutSeconds: (probe.timeoutSeconds as number | undefined) ?? 1,
    failureThreshold: (probe.failureThreshold as number | undefined) ?? 3,
  };
}
