import { NativeConnection, Worker } from '@temporalio/worker';
import { instanceTaskQueue } from '../common/names';
import { temporalSecurityFromEnv } from '../config/config';
import { connectionOptions } from '../temporal-connection';
import { installRuntimeLogger } from '../runtime';
import { createLogger } from '../logger';
import { createAgentActivities, WorkloadRunner } from './activities';

/**
 * The agent: a Temporal worker on the instance's own task queue. It starts the workload,
 * heartbeats while it runs, and stops it when the workflow cancels supervision.
 * Settings come from the environment the provider launched it with.
 */
export async function runAgent(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const instanceId = env.DRIFTLESS_INSTANCE_ID;
  const dir = env.DRIFTLESS_INSTANCE_DIR ?? process.cwd();
  if (!instanceId) throw new Error('DRIFTLESS_INSTANCE_ID is not set');
  const logger = createLogger({ component: 'agent', instanceId });
  const address = env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  const namespace = env.TEMPORAL_NAMESPACE ?? 'default';
  installRuntimeLogger(logger);
  const runner = new WorkloadRunner({ instanceId, dir, logger });
  runner.writeStatus(false);

  const connection = await NativeConnection.connect(
    connectionOptions({ ...temporalSecurityFromEnv(env), address, namespace, taskQueue: '' }),
  );
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue: instanceTaskQueue(instanceId),
    activities: createAgentActivities(runner),
    // The agent runs one workload; two slots allow start and supervise to overlap with a retry.
    maxConcurrentActivityTaskExecutions: 4,
    shutdownGraceTime: '5s',
  });
  runner.writeStatus(true);
  let stopping = false;
  const shutdown = (sig: string) => {
    if (stopping) return;
    stopping = true;
    runner.beginShutdown();
    logger.info({ signal: sig }, 'agent stopping');
    void runner.stop(5000).finally(() => worker.shutdown());
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  logger.info({ address, namespace, taskQueue: instanceTaskQueue(instanceId) }, 'agent polling');
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  runAgent().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`driftless agent: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
}
