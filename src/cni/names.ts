/**
 * The names the CNI spec and the kernel constrain, checked where they enter: container IDs and
 * network names (CNI spec), interface names (the kernel's dev_valid_name), unix socket paths.
 */

/**
 * CNI spec: container IDs and network names start with an alphanumeric character, followed by
 * alphanumerics, '_', '.' or '-'. The spec sets no length limit (runtimes use 64 hex digits,
 * others more), so none is set here.
 */
export const CNI_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** IFNAMSIZ - 1: the longest interface name, in bytes. */
export const IFNAME_MAX_BYTES = 15;

/** sizeof(sun_path) - 1: the longest unix socket path, in bytes. */
export const SOCKET_PATH_MAX_BYTES = 107;

export function byteLength(s: string): number {
  return new TextEncoder().encode(s).length;
}

/**
 * Why `name` cannot be a Linux interface name, or null when it can. The kernel's rules
 * (dev_valid_name): 1 to 15 bytes, not "." or "..", no '/', ':' or whitespace — whitespace as
 * its isspace() sees each byte, which also counts 0xA0 (the second byte of 'à', for one). Any
 * Unicode whitespace is refused too, as libcni does.
 */
export function ifNameProblem(name: string): string | null {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length === 0) return 'is empty';
  if (bytes.length > IFNAME_MAX_BYTES)
    return `is ${bytes.length} bytes long, at most ${IFNAME_MAX_BYTES}`;
  if (name === '.' || name === '..') return 'may not be "." or ".."';
  if (/[/:\s]/u.test(name) || bytes.includes(0xa0)) return "may not contain '/', ':' or whitespace";
  return null;
}

/** A value for a message: JSON-quoted, cut short when long (container IDs can be kilobytes). */
export function quote(v: string, max = 80): string {
  return v.length <= max ? JSON.stringify(v) : `${JSON.stringify(v.slice(0, max))}…`;
}
