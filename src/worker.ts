import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './activities';
import type { Config } from './config/config';
import { createLogger } from './logger';
import { createProviders } from './providers/registry';
import { installRuntimeLogger } from './runtime';
import { connectionOptions } from './temporal-connection';

/** Prebuilt by `npm run build` so a worker starts in about a second instead of bundling. */
export const WORKFLOW_BUNDLE = join(__dirname, 'workflow-bundle.js');

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
