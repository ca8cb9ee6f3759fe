import { parse as parseYaml } from 'yaml';
import { formatIssues } from '../cni/issues.js';
import { z } from 'zod';
import { devargsTemplateProblem } from './dpdk-devargs.js';
import {
  assertIfName,
  assertPciAddress,
  files,
  hostname,
  InvalidInputError,
  isIfName,
  isPciAddress,
} from '../sys/index.js';

/**
 * The agent config (docs/configuration.md): YAML or JSON, every key optional with the
 * defaults below; an unknown key or a bad value fails with its path and changes nothing.
 */

const ifName = z.string().refine(isIfName, {
  message: 'not a valid interface name (1-15 bytes, no "/", ":" or whitespace)',
});
const pciAddress = z
  .string()
  .refine(isPciAddress, { message: 'not a PCI address of the form DDDD:BB:DD.F' })
  .transform((s) => s.toLowerCase());
const absPath = z.string().startsWith('/', { message: 'must be an absolute path' });

export const NicPolicySchema = z
  .object({
    pf: ifName.optional(),
    pci: pciAddress.optional(),
    numVfs: z.number().int().min(0).optional(),
    eswitchMode: z.enum(['switchdev', 'legacy']).optional(),
    legacyPortNames: z.boolean().default(false),
    uplinkBridge: ifName.optional(),
    /**
     * How a VF's representor joins OVS: `netdev` (the kernel representor), `dpdk` (a
     * type=dpdk Interface with `dpdkDevargs`), `auto` (dpdk when the pod bridge's
     * datapath_type is netdev and Open_vSwitch.dpdk_initialized is true).
     */
    representorType: z.enum(['auto', 'netdev', 'dpdk']).optional(),
    /** `options:dpdk-devargs` of a DPDK representor port; default DEFAULT_DPDK_DEVARGS. */
    dpdkDevargs: z
      .string()
      .superRefine((t, ctx) => {
        const problem = devargsTemplateProblem(t);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
  })
  .strict()
  .refine((p) => (p.pf === undefined) !== (p.pci === undefined), {
    message: 'exactly one of "pf" or "pci" is required',
  });
export type NicPolicy = z.infer<typeof NicPolicySchema>;

/** The port of a HOST:PORT / tcp:HOST:PORT, in the range a socket can bind (1..65535). */
const validPort = (s: string) => {
  const port = Number(/:(\d+)$/.exec(s)?.[1] ?? NaN);
  return s.startsWith('unix:') || (Number.isInteger(port) && port >= 1 && port <= 65535);
};

const listenAddress = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, { message: 'must be HOST:PORT' })
  .refine(validPort, { message: 'port must be 1..65535' })
  .nullable();

export const AgentConfigSchema = z
  .object({
    sysfsRoot: absPath.default('/'),
    nodeName: z.string().min(1).optional(),
    stateDir: absPath.default('/var/lib/ovs-offload'),
    ovs: z
      .object({
        db: z
          .string()
          .regex(/^(unix:\/.+|tcp:[^:\s]+:\d{1,5}|tcp:\[[0-9a-fA-F:]+\]:\d{1,5})$/, {
            message: 'must be unix:/PATH or tcp:HOST:PORT',
          })
          .refine(validPort, { message: 'port must be 1..65535' })
          .default('unix:/var/run/openvswitch/db.sock'),
        bridge: ifName.default('br-int'),
        hwOffload: z.boolean().optional(),
        tcPolicy: z.enum(['none', 'skip_sw', 'skip_hw']).optional(),
        ovnInstalledTimeoutMs: z.number().int().positive().default(30_000),
      })
      .strict()
      .prefault({}),
    nics: z.array(NicPolicySchema).default([]),
    devicePlugin: z
      .object({
        configFile: absPath.optional(),
        /** sriov-network-device-plugin resourceList, validated by src/deviceplugin. */
        resourceList: z.array(z.unknown()).optional(),
        resourcePrefix: z.string().min(1).default('intel.com'),
        kubeletDir: absPath.default('/var/lib/kubelet'),
        devinfoDir: absPath.default('/var/run/k8s.cni.cncf.io/devinfo/dp'),
      })
      .strict()
      .refine((d) => d.configFile === undefined || d.resourceList === undefined, {
        message: 'give either "configFile" or "resourceList", not both',
      })
      .transform((d) =>
        d.configFile === undefined && d.resourceList === undefined
          ? { ...d, configFile: '/etc/pcidp/config.json' }
          : d,
      )
      .optional(),
    cni: z
      .object({ socket: absPath.default('/run/ovs-offload/cni.sock') })
      .strict()
      .prefault({}),
    kubernetes: z
      .object({
        kubeconfig: absPath.optional(),
        annotationWaitMs: z.number().int().min(0).default(20_000),
      })
      .strict()
      .optional(),
    metrics: z
      .object({
        listen: listenAddress.default('127.0.0.1:9476'),
        flowSampleIntervalMs: z.number().int().min(0).default(0),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type AgentConfigInput = z.input<typeof AgentConfigSchema>;
export type AgentConfig = z.output<typeof AgentConfigSchema> & { nodeName: string };

export function parseAgentConfig(raw: unknown, source = 'config'): AgentConfig {
  const r = AgentConfigSchema.safeParse(raw ?? {});
  // Every problem, each with its path: "nics[1].pci: not a PCI address …; ovs: …".
  if (!r.success) throw new InvalidInputError(source, formatIssues(r.error.issues, '(top level)'));
  const cfg = r.data;
  for (const [i, n] of cfg.nics.entries()) {
    if (n.pf !== undefined) assertIfName(n.pf, `nics[${i}].pf`);
    if (n.pci !== undefined) assertPciAddress(n.pci, `nics[${i}].pci`);
  }
  return { ...cfg, nodeName: cfg.nodeName ?? hostname() };
}

/** Reads a YAML or JSON file (JSON is YAML) into a validated config. */
export async function loadAgentConfig(file: string): Promise<AgentConfig> {
  const text = await files.readText(file);
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new InvalidInputError(
      file,
      `not valid YAML/JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return parseAgentConfig(raw, file);
}
