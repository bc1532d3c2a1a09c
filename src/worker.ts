import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import { createActivities } from './activities';
import type { Config } from './config/config';
import { createLogger, type Logger } from './logger';
import { createProviders } from './providers/registry';
import { connectionOptions } from './temporal-connection';

/** Prebuilt by `npm run build` so a worker starts in about a second instead of bundling. */
export const WORKFLOW_BUNDLE = join(__dirname, 'workflow-bundle.js');

let runtimeInstalled = false;

/** Routes the Temporal SDK's own logs into pino (once per process). */
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
  });
}

export interface DriftlessWorker {
  worker: Worker;
  /** Resolves when the worker has shut down. */
  run(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The control-plane worker: the workload workflow and the provider activities. */
export async function createDriftlessWorker(
  config: Config,
  logger = createLogger(),
): Promise<DriftlessWorker> {
  installRuntimeLogger(logger);
  const connection = await NativeConnection.connect(connectionOptions(config.temporal));
  const providers = createProviders(config, logger);
  const workflowSource = existsSync(WORKFLOW_BUNDLE)
    ? { workflowBundle: { codePath: WORKFLOW_BUNDLE } }
    : { workflowsPath: require.resolve('./workflows') };
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...workflowSource,
    activities: createActivities({
      providers,
      logger,
      owner: config.owner,
      agentTemporal: { address: config.temporal.address, namespace: config.temporal.namespace },
    }),
    shutdownGraceTime: '5s',
  });
  logger.info(
    { component: 'worker', address: config.temporal.address, taskQueue: config.temporal.taskQueue },
    'worker polling',
  );
  let running: Promise<void> | undefined;
  return {
    worker,
    run() {
      running ??= worker.run().finally(() => connection.close());
      return running;
    },
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}
