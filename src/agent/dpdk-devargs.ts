/**
 * The `options:dpdk-devargs` template of a PF whose representors are DPDK ports
 * (`nics[].dpdkDevargs`). PMDs disagree on how a representor is named in devargs: mlx5 and
 * Kube-OVN's YUSUR code write `<PCI>,representor=[<n>]`, others want `representor=vf<n>` or
 * `representor=pf0vf<n>`, and a vdev (net_af_packet, …) names its own kernel interface.
 */

export const DEFAULT_DPDK_DEVARGS = '{pf},representor=[{vf}]';

export const DEVARGS_PLACEHOLDERS = ['pf', 'vf', 'representor', 'repIndex'] as const;
export type DevargsPlaceholder = (typeof DEVARGS_PLACEHOLDERS)[number];
export type DevargsValues = { [K in DevargsPlaceholder]?: string | number | null };

type Piece = { text: string } | { placeholder: DevargsPlaceholder };

/**
 * Splits a template into text and placeholders; a message for an unknown placeholder or an
 * unbalanced brace. `[` and `]` are devargs' own list syntax and stay literal.
 */
export function parseDevargsTemplate(template: string): Piece[] | string {
  const pieces: Piece[] = [];
  let text = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === '}') return `unbalanced "}" at offset ${i}`;
    if (c !== '{') {
      text += c;
      continue;
    }
    const end = template.indexOf('}', i + 1);
    const nextOpen = template.indexOf('{', i + 1);
    if (end < 0 || (nextOpen >= 0 && nextOpen < end)) return `unbalanced "{" at offset ${i}`;
    const name = template.slice(i + 1, end);
    if (!(DEVARGS_PLACEHOLDERS as readonly string[]).includes(name)) {
      return `unknown placeholder {${name}} (known: ${DEVARGS_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')})`;
    }
    if (text) pieces.push({ text });
    text = '';
    pieces.push({ placeholder: name as DevargsPlaceholder });
    i = end;
  }
  if (text) pieces.push({ text });
  if (pieces.length === 0) return 'is empty';
  return pieces;
}

/** null when valid, else why not. */
export function devargsTemplateProblem(template: string): string | null {
  const r = parseDevargsTemplate(template);
  return typeof r === 'string' ? r : null;
}

/** Placeholders the template uses (so a caller reads only what it needs from sysfs). */
export function devargsPlaceholders(template: string): Set<DevargsPlaceholder> {
  const r = parseDevargsTemplate(template);
  if (typeof r === 'string') throw new Error(`dpdkDevargs ${JSON.stringify(template)}: ${r}`);
  return new Set(r.flatMap((p) => ('placeholder' in p ? [p.placeholder] : [])));
}

/** The devargs string; a placeholder whose value is unknown here throws with its name. */
export function renderDevargs(template: string, values: DevargsValues): string {
  const r = parseDevargsTemplate(template);
  if (typeof r === 'string') throw new Error(`dpdkDevargs ${JSON.stringify(template)}: ${r}`);
  return r
    .map((p) => {
      if ('text' in p) return p.text;
      const v = values[p.placeholder];
      if (v === undefined || v === null || v === '') {
        throw new Error(`{${p.placeholder}} has no value for this VF`);
      }
      return String(v);
    })
    .join('');
}

/**
 * The representor index when one DPDK device serves every PF function of a NIC: Kube-OVN's
 * YUSUR/Yunsilicon code (pkg/daemon/ovs_linux.go, getRepIndex) gives PF function 1's VF n
 * the index n + sriov_numvfs of function 0. Generalised: the VF index plus the VFs of every
 * lower-numbered PF function of the same PCI device.
 */
export function representorIndex(
  vfIndex: number,
  pfFunction: number,
  numVfsByFunction: ReadonlyMap<number, number>,
): number {
  let n = vfIndex;
  for (const [fn, count] of numVfsByFunction) if (fn < pfFunction) n += count;
  return n;
}

/** The function number of a PCI address DDDD:BB:DD.F. */
export function pciFunction(pci: string): number {
  const m = /\.([0-7])$/.exec(pci);
  if (!m?.[1]) throw new Error(`${pci} is not a PCI address`);
  return Number(m[1]);
}

/**
 * The port name of a DPDK representor port: the representor netdev's name when the PF has
 * one (a bifurcated PMD such as mlx5 keeps the kernel netdevs), else Kube-OVN's YUSUR form
 * `pf<PF function>vf<N>rep`.
 */
export function dpdkPortName(representorNetdev: string | null, pfPci: string, vfIndex: number) {
  return representorNetdev ?? `pf${pciFunction(pfPci)}vf${vfIndex}rep`;
}
