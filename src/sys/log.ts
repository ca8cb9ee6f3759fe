import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * JSON logs on stderr (fd 2): stdout belongs to results (CNI, `--json`). Level from
 * OVS_OFFLOAD_LOG_LEVEL (default info).
 */
export function createLogger(name: string, level?: string): Logger {
  return pino(
    {
      name,
      level: level ?? process.env.OVS_OFFLOAD_LOG_LEVEL ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ fd: 2, sync: true }),
  );
}

/** A logger that drops everything (unit tests, library callers that pass none). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
