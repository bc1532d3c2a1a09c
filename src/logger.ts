import pino, { type Logger } from 'pino';

/**
 * JSON logs to stderr (stdout carries command results). Level from DRIFTLESS_LOG_LEVEL.
 * @default level "info"
 */
export function createLogger(bindings: Record<string, unknown> = {}, level?: string): Logger {
  return pino(
    { level: level ?? process.env.DRIFTLESS_LOG_LEVEL ?? 'info', base: { pid: process.pid, ...bindings } },
    pino.destination({ fd: 2, sync: true }),
  );
}

export type { Logger };
