import * as net from 'node:net';
import { OvsOffloadError } from './errors.js';

/**
 * One-request-per-connection JSON-line RPC on a unix socket: small local helpers (the
 * sandbox NIC daemon and its stand-in commands) that need no HTTP.
 */
export interface JsonLineServer {
  close(): Promise<void>;
}

export function serveJsonLines(
  socketPath: string,
  handler: (request: unknown) => Promise<unknown>,
): Promise<JsonLineServer> {
  const server = net.createServer((conn) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = '';
      let request: unknown;
      try {
        request = JSON.parse(line);
      } catch {
        conn.end(JSON.stringify({ error: 'bad request' }) + '\n');
        return;
      }
      handler(request).then(
        (reply) => conn.end(JSON.stringify({ reply }) + '\n'),
        (err: unknown) =>
          conn.end(
            JSON.stringify({ error: err instanceof Error ? err.message : String(err) }) + '\n',
          ),
      );
    });
    conn.on('error', () => undefined);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve({
        close: () => new Promise<void>((res) => server.close(() => res())),
      });
    });
  });
}

export function requestJsonLine(
  socketPath: string,
  request: unknown,
  timeoutMs = 30_000,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socketPath);
    let buf = '';
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new OvsOffloadError(`request ${socketPath}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(JSON.stringify(request) + '\n'));
    conn.on('data', (c: string) => (buf += c));
    conn.on('error', (err) => {
      clearTimeout(timer);
      reject(new OvsOffloadError(`request ${socketPath}: ${err.message}`, { cause: err }));
    });
    conn.on('end', () => {
      clearTimeout(timer);
      try {
        const msg = JSON.parse(buf) as { reply?: unknown; error?: string };
        if (msg.error !== undefined) reject(new OvsOffloadError(msg.error));
        else resolve(msg.reply);
      } catch {
        reject(new OvsOffloadError(`request ${socketPath}: malformed answer`));
      }
    });
  });
}
