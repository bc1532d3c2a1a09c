import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from './logger';

let runtimeInstalled = false;

/** Routes the Temporal SDK's own logs into pino and leaves signals to us (once per process). */
export function installRuntimeLogger(logger: Logger): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const sdk = logger.child({ component: 'temporal-sdk' });
  const level = (process.env.DRIFTLESS_SDK_LOG_LEVEL ?? 'WARN') as LogLevel;
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      const fn = entry.level === 'ERROR' ? 'error' : entry.level === 'WARN' ? 'warn' : 'info';
      sdk[fn]({ ...entry.meta }, entry.message);
    }),
    // The native core's own logs go through the same logger instead of raw to stderr.
    telemetryOptions: { logging: { filter: { core: level, other: level }, forward: {} } },
    // driftless handles SIGINT/SIGTERM itself (a demo must clean up before its worker stops).
    shutdownSignals: [],
  });
}
