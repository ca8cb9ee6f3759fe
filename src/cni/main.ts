import { CniCode, CniError } from './errors.js';
import { runCni } from './run.js';
import { LATEST } from './version.js';

/**
 * `ovs-offload-cni`: the CNI protocol edge. Reads CNI_* and the NetConf, hands them to
 * runCni (which validates them and forwards the request to the agent), prints what it answers
 * on stdout — the result, or the error JSON; nothing else ever goes to stdout — and exits with
 * its code. Only the process plumbing lives here.
 */

function readStdin(): Promise<Buffer> {
  // VERSION typed at a terminal: waiting for end of input would hang, and VERSION needs none.
  if (process.env.CNI_COMMAND === 'VERSION' && process.stdin.isTTY)
    return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks)));
    process.stdin.on('error', reject);
  });
}

/** The exit code of the answer being written: 0, or 1 once it is an error JSON. */
let exitCode = 0;

// A runtime that stops reading (it gave up waiting, or a shell's `| head -c0`) makes the write
// fail with EPIPE. Nobody is left to read the answer: leave with the code it carried, quietly —
// unhandled, the 'error' event would end the process with a stack trace on stderr. Any other
// failure to write means the answer did not get out, which is never a success.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  process.exit(err.code === 'EPIPE' ? exitCode : exitCode || 1);
});
// Nothing of ours goes to stderr; a closed one must not end the process either.
process.stderr.on('error', () => {});

let answered = false;

function answer(stdout: string, code: number): void {
  answered = true;
  exitCode = code;
  process.exitCode = code;
  if (stdout !== '') process.stdout.write(stdout);
}

/**
 * Last resort, for a bug: still one error JSON on stdout (unless the answer is already out)
 * and exit 1, never a stack trace.
 */
function internalError(err: unknown): void {
  if (answered) process.exit(exitCode || 1);
  const e = new CniError(
    CniCode.Internal,
    `internal error: ${err instanceof Error ? err.message : String(err)}`,
  );
  answer(JSON.stringify(e.toJSON(LATEST)) + '\n', 1);
  process.exit(1);
}
process.on('uncaughtException', internalError);
process.on('unhandledRejection', internalError);

readStdin().then(
  async (stdin) => {
    const out = await runCni(process.env, stdin);
    answer(out.stdout, out.code);
  },
  (err: unknown) => {
    const e = new CniError(
      CniCode.IoFailure,
      `read stdin: ${err instanceof Error ? err.message : String(err)}`,
    );
    answer(JSON.stringify(e.toJSON(LATEST)) + '\n', 1);
  },
);
