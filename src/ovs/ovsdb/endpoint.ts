import * as net from 'node:net';
import { InvalidInputError, NotSupportedError } from '../../sys/index.js';

/** Where ovsdb-server listens, in the `ovs-vsctl --db=` syntax (active connection methods). */
export type Endpoint =
  | { kind: 'unix'; path: string; text: string }
  | { kind: 'tcp'; host: string; port: number; text: string };

/**
 * Parses `unix:<path>` or `tcp:<host>:<port>` (IPv6 hosts in brackets, as OVS spells them:
 * `tcp:[::1]:6640`). `ssl:` needs keys we do not manage, so it is refused by name.
 */
export function parseEndpoint(text: string): Endpoint {
  const bad = (why: string) =>
    new InvalidInputError('ovsdb endpoint', `${JSON.stringify(text)} ${why}`);
  if (text.startsWith('unix:')) {
    const p = text.slice(5);
    if (p.length === 0 || p.includes('\0')) throw bad('has no socket path');
    return { kind: 'unix', path: p, text };
  }
  if (text.startsWith('tcp:')) {
    const rest = text.slice(4);
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(rest);
    const host = m?.[1] ?? m?.[2];
    const port = Number(m?.[3]);
    if (!m || !host) throw bad('is not tcp:<host>:<port> (IPv6 as tcp:[addr]:<port>)');
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw bad('has a port outside 1-65535');
    if (m[1] !== undefined && net.isIPv6(host) === false) throw bad('has a bad IPv6 address');
    return { kind: 'tcp', host, port, text };
  }
  if (/^(ssl|pssl|ptcp|punix):/.test(text))
    throw new NotSupportedError(`ovsdb endpoint ${text.split(':')[0]}:`, {
      message: `connect ${text}: only unix: and tcp: endpoints are supported`,
    });
  throw bad('is neither unix:<path> nor tcp:<host>:<port>');
}

/** Opens the socket (the caller owns it: errors and close arrive as socket events). */
export function openSocket(ep: Endpoint): net.Socket {
  if (ep.kind === 'unix') return net.createConnection({ path: ep.path });
  const s = net.createConnection({ host: ep.host, port: ep.port });
  // Requests are small and latency-bound: Nagle would hold each one back for an ACK.
  s.setNoDelay(true);
  return s;
}
