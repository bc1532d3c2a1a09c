import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './activities';
import { createReconcileActivities } from './activities/reconcile';
import type { Config } from './config/config';
import { createLogger } from './logger';
import { createProviders } from './providers/registry';
import type { Installation } from './providers/types';
import { storedInstallationId } from './reconcile/installation';
import { ensureReconcileSchedule, reconcileScheduleId } from './reconcile/schedule';
import { installRuntimeLogger } from './runtime';
import { agentSettingsFor, checkAgentSettings } from './providers/agent-settings';
import { connectError, connectionOptions, dataConverterFromEnv } from './temporal-connection';

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
  // Read first: a malformed key, or a cloud its agents could not use, stops the worker before it connects.
  const dataConverter = dataConverterFromEnv();
  checkAgentSettings(config);
  const connection = await NativeConnection.connect(connectionOptions(config.temporal)).catch(
    (err: unknown) => {
      throw connectError(config.temporal, err);
    },
  );
  const providers = await createProviders(config, logger);
  // Reconcile reads workflows' state, which needs a client connection (a NativeConnection cannot query).
  let client: Promise<Client> | undefined;
  const queryClient = () =>
    (client ??= Connection.connect(connectionOptions(config.temporal)).then(
      (c) => new Client({ connection: c, namespace: config.temporal.namespace, dataConverter }),
    ));
  const installation: Installation = {
    namespace: config.temporal.namespace,
    id:
      config.installation ??
      (await storedInstallationId(await queryClient(), {
        owner: config.owner,
        taskQueue: config.temporal.taskQueue,
      })),
  };
  const workflowSource = existsSync(WORKFLOW_BUNDLE)
    ? { workflowBundle: { codePath: WORKFLOW_BUNDLE } }
    : { workflowsPath: require.resolve('./workflows') };
  const worker = await Worker.create({
    connection,
    dataConverter,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...workflowSource,
    activities: {
      ...createActivities({
        providers,
        logger,
        owner: config.owner,
        installation,
        agentTemporal: agentSettingsFor(config),
        watch: {
          client: queryClient,
          taskQueue: config.temporal.taskQueue,
          intervalMs: config.watch.intervalMs,
        },
      }),
      ...createReconcileActivities({
        providers,
        owner: config.owner,
        installation,
        listTimeoutMs: config.reconcile.listTimeoutMs,
        logger,
        client: queryClient,
      }),
    },
    shutdownGraceTime: '5s',
    maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
    maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
    maxCachedWorkflows: config.worker.maxCachedWorkflows,
  });
  if (config.reconcile.enabled) {
    const created = await ensureReconcileSchedule(await queryClient(), {
      owner: config.owner,
      taskQueue: config.temporal.taskQueue,
      everyMs: config.reconcile.everyMs,
      graceMs: config.reconcile.graceMs,
    });
    logger.info(
      {
        component: 'worker',
        schedule: reconcileScheduleId(config.owner, config.temporal.taskQueue),
        everyMs: config.reconcile.everyMs,
      },
      created ? 'reconcile schedule created' : 'reconcile schedule exists',
    );
  }
  logger.info(
    {
      component: 'worker',
      address: config.temporal.address,
      taskQueue: config.temporal.taskQueue,
      installation,
    },
    'worker polling',
  );
  let running: Promise<void> | undefined;
  return {
    worker,
    run() {
      running ??= worker.run().finally(async () => {
        await connection.close();
        if (client) await (await client).connection.close();
      });
      return running;
    },
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}
