/** A schema problem at a path into the checked value (zod's issue shape, full or mini). */
export interface PathIssue {
  path: readonly PropertyKey[];
  message: string;
}

/** `nics[1].pci` / `runtimeConfig.deviceID`: a path as a user would write it. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
    '',
  );
}

/** Every problem, each with its path: "nics[1].pci: not a PCI address …; ovs: …". */
export function formatIssues(issues: readonly PathIssue[], rootLabel: string): string {
  return issues.map((i) => `${formatPath(i.path) || rootLabel}: ${i.message}`).join('; ');
}
