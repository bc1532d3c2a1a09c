import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from './logger';

let runtimeInstalled = false;

const PINO_LEVEL = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

/** Routes the Temporal SDK's own logs into pino and leaves signals to us (once per process). */
export function installRuntimeLogger(logger: Logger): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const sdk = logger.child({ component: 'temporal-sdk' });
  const level = (process.env.DRIFTLESS_SDK_LOG_LEVEL ?? 'WARN') as LogLevel;
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      // Through pino like every other line: JSON in pipes, readable on a terminal (src/logger.ts).
      sdk[PINO_LEVEL[entry.level]]({ ...entry.meta }, entry.message);
    }),
    // The native core's own logs go through the same logger instead of raw to stderr.
    telemetryOptions: { logging: { filter: { core: level, other: level }, forward: {} } },
    // driftless handles SIGINT/SIGTERM itself (a demo must clean up before its worker stops).
    shutdownSignals: [],
  });
}
