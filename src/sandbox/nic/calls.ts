import * as path from 'node:path';
import { files } from '../../sys/index.js';
import type { CallRecord } from './protocol.js';

/** The call log: every stand-in invocation and every sysfs write acted on, in order. */
export class CallLog {
  readonly all: CallRecord[] = [];

  /** Also written to `<dir>/calls.jsonl`, so a run can be read after the daemon is gone. */
  constructor(private readonly dir: string) {}

  record(tool: CallRecord['tool'], argv: readonly string[], code: number, note?: string): void {
    const rec: CallRecord = {
      ts: Date.now(),
      tool,
      argv: [...argv],
      code,
      ...(note ? { note } : {}),
    };
    this.all.push(rec);
    void files
      .writeText(
        path.join(this.dir, 'calls.jsonl'),
        this.all.map((c) => JSON.stringify(c)).join('\n') + '\n',
      )
      .catch(() => undefined);
  }

  clear(): void {
    this.all.length = 0;
  }
}
