import { NativeConnection } from '@temporalio/worker';
import { instanceTaskQueue } from '../common/names';
import { connectionOptions, dataConverterFromEnv } from '../temporal-connection';
import { installRuntimeLogger } from '../runtime';
import { createLogger } from '../logger';
import { spawn } from 'node:child_process';
import { InstanceAgent } from './instance-agent';
import { deadManTimeoutFromEnv, temporalDeadMan } from './dead-man';
import { NoticeWatcher } from './notices';
import { agentCredentials } from './secrets';

/**
 * The agent process of one instance: a Temporal worker on the instance's own task queue
 * (instance-agent.ts), its dead-man's switch and its notice watcher. Settings come from the
 * environment the provider launched it with.
 */
export async function runAgent(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const instanceId = env.DRIFTLESS_INSTANCE_ID;
  const dir = env.DRIFTLESS_INSTANCE_DIR ?? process.cwd();
  if (!instanceId) throw new Error('DRIFTLESS_INSTANCE_ID is not set');
  const deadManTimeoutMs = deadManTimeoutFromEnv(env);
  /** Run when the dead-man's switch fires, e.g. "sudo shutdown -h now" on a cloud instance. */
  const shutdownCommand = env.DRIFTLESS_SHUTDOWN_COMMAND?.trim() || undefined;
  const logger = createLogger({ component: 'agent', instanceId });
  installRuntimeLogger(logger);
  // TEMPORAL_* from the provider; on a cloud machine the API key or client certificate and the
  // codec key are fetched from the secrets the boot script names (secrets.ts).
  const { connection: settings, codecEnv } = await agentCredentials(env);
  const { address, namespace } = settings;
  // The workflow's arguments to the agent (the workload's env) are encrypted when the
  // installation has a codec key; the agent needs the same key.
  const dataConverter = dataConverterFromEnv(codecEnv);
  const connection = await NativeConnection.connect(connectionOptions(settings));
  const agent = await InstanceAgent.create({
    connection,
    namespace,
    dataConverter,
    instanceId,
    dir,
    logger,
    env,
  });
  const shutdown = (why: string, then?: () => Promise<void>) => void agent.shutdown(why, then);
  // SIGHUP too: a closed terminal or session must not leave the workload running on its own.
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => shutdown(sig));

  const deadMan = temporalDeadMan(connection, deadManTimeoutMs, logger, () =>
    shutdown('dead-man switch: Temporal unreachable', async () => {
      if (shutdownCommand) await runShutdownCommand(shutdownCommand, logger);
      // A worker cannot shut down gracefully without its server; do not wait for it.
      setTimeout(() => process.exit(0), 2000).unref();
    }),
  );
  // On a cloud machine: spot and maintenance notices, reported to the supervision at once.
  const noticeSettings = NoticeWatcher.settingsFromEnv(env);
  const notices =
    noticeSettings &&
    new NoticeWatcher({
      ...noticeSettings,
      intervalMs: Number(env.DRIFTLESS_NOTICE_INTERVAL_MS) || 2000,
      logger,
      onNotice: (n) => agent.runner.reportNotice(n),
    });
  notices?.start();
  logger.info(
    { address, namespace, taskQueue: instanceTaskQueue(instanceId), deadManTimeoutMs },
    'agent polling',
  );
  try {
    await agent.run();
  } finally {
    deadMan?.stop();
    notices?.stop();
    await connection.close();
  }
}

/** Runs the machine's shutdown command; its failure is logged, not thrown (the agent exits anyway). */
function runShutdownCommand(command: string, logger: ReturnType<typeof createLogger>): Promise<void> {
  return new Promise((resolve) => {
    logger.warn({ command }, 'shutting the machine down');
    const child = spawn('/bin/sh', ['-c', command], { stdio: 'inherit' });
    child.on('error', (err) => {
      logger.error({ err: err.message, command }, 'shutdown command failed to start');
      resolve();
    });
    child.on('exit', (code) => {
      if (code !== 0) logger.error({ code, command }, 'shutdown command failed');
      resolve();
    });
  });
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
