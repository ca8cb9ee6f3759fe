import { request } from 'node:http';
import { CniCode, CniError } from './errors.js';
import type { AgentErrorBody, AgentRequest, CniOp, CniResult } from './types.js';

export const AGENT_TIMEOUT_MS = 60_000;

/**
 * POST /api/v1/<op> to the agent over its unix socket. Unreachable agent → code 11 naming
 * the socket (50 for STATUS): the runtime retries, and the pod is not half set up.
 */
export function callAgent(
  socketPath: string,
  op: CniOp,
  body: AgentRequest,
  timeoutMs = AGENT_TIMEOUT_MS,
): Promise<CniResult | null> {
  const unreachable = op === 'status' ? CniCode.NotAvailable : CniCode.TryAgainLater;
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path: `/api/v1/${op}`,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text === '' ? {} : JSON.parse(text);
          } catch {
            reject(
              new CniError(
                unreachable,
                `agent at ${socketPath} sent a malformed answer`,
                text.slice(0, 200),
              ),
            );
            return;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            resolve((parsed as { result?: CniResult }).result ?? null);
            return;
          }
          const e = parsed as Partial<AgentErrorBody>;
          reject(
            new CniError(
              typeof e.code === 'number' ? e.code : unreachable,
              typeof e.msg === 'string' ? e.msg : `agent answered HTTP ${status}`,
              typeof e.details === 'string' ? e.details : '',
            ),
          );
        });
      },
    );
    req.on('timeout', () => {
      req.destroy(new Error(`no answer in ${timeoutMs / 1000} s`));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      reject(
        new CniError(
          unreachable,
          `ovs-offload agent unreachable at ${socketPath}: ${err.code ?? err.message}`,
          'is the ovs-offload agent running on this node?',
        ),
      );
    });
    req.end(payload);
  });
}

/** GET /api/v1/state from the agent (`ovs-offload status`). */
export function getAgentState(socketPath: string, timeoutMs = 10_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path: '/api/v1/state', method: 'GET', timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 0) !== 200) {
            reject(
              new Error(
                `agent at ${socketPath} answered HTTP ${res.statusCode ?? '?'}: ${text.slice(0, 200)}`,
              ),
            );
            return;
          }
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(new Error(`agent at ${socketPath} sent a malformed answer`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs / 1000} s`)));
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(`ovs-offload agent unreachable at ${socketPath}: ${err.code ?? err.message}`),
      ),
    );
    req.end();
  });
}
