/**
 * One instance's agent: a Temporal worker on the instance's own task queue serving the agent
 * activities for one workload. A real instance runs one in its own process (main.ts); a local
 * pool in scale mode runs many in one host process (host.ts) on one shared connection.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { instanceTaskQueue } from '../common/names';
import { dataConverterFromEnv } from '../temporal-connection';
import { createAgentActivities } from './activities';
import { WorkloadRunner } from './runner';

export interface InstanceAgentOptions {
  connection: NativeConnection;
  namespace: string;
  dataConverter: ReturnType<typeof dataConverterFromEnv>;
  instanceId: string;
  /** The instance's directory: agent.json, workload.log, the workload's working directory. */
  dir: string;
  logger: Logger;
  /**
   * What the workload's environment is derived from (an allowlist of it, see workloadBaseEnv),
   * with DRIFTLESS_WORKLOAD_USER, the user it runs as. @default process.env
   */
  env?: NodeJS.ProcessEnv;
  /** Most activity polls at once on the instance's queue. @default the SDK's */
  maxPolls?: number;
}

export class InstanceAgent {
  /** Settles once the workload has stopped and the worker has been told to shut down. */
  private stopped?: Promise<void>;

  private constructor(
    readonly worker: Worker,
    readonly runner: WorkloadRunner,
    private readonly logger: Logger,
  ) {}

  static async create(opts: InstanceAgentOptions): Promise<InstanceAgent> {
    const runner = new WorkloadRunner({
      instanceId: opts.instanceId,
      dir: opts.dir,
      logger: opts.logger,
      env: opts.env,
    });
    runner.writeStatus(false);
    const worker = await Worker.create({
      connection: opts.connection,
      dataConverter: opts.dataConverter,
      namespace: opts.namespace,
      taskQueue: instanceTaskQueue(opts.instanceId),
      activities: createAgentActivities(runner),
      // The agent runs one workload; a few slots let start, supervise and a retry overlap.
      maxConcurrentActivityTaskExecutions: 4,
      ...(opts.maxPolls !== undefined
        ? { activityTaskPollerBehavior: { type: 'simple-maximum' as const, maximum: opts.maxPolls } }
        : {}),
      shutdownGraceTime: '5s',
      // The supervision heartbeats every third of the heartbeat timeout so that one late beat is
      // not a lost instance. The SDK would hold them back to one per 0.8 x the timeout (a 15 s
      // timeout left 3 s of slack, and a busy machine lost healthy instances): send each one.
      maxHeartbeatThrottleInterval: '1s',
    });
    runner.writeStatus(true);
    return new InstanceAgent(worker, runner, opts.logger);
  }

  /**
   * Stops the workload (SIGTERM, then SIGKILL after `graceMs`, by default its stop grace), runs
   * `then`, and shuts the worker down. The first call decides; later ones return the same promise.
   */
  shutdown(why: string, then?: () => Promise<void>, graceMs?: number): Promise<void> {
    if (this.stopped) return this.stopped;
    // First: the workload's exit from here on is the instance's loss, not the workload's failure.
    this.runner.beginShutdown();
    this.logger.info({ reason: why }, 'agent stopping');
    this.stopped = this.runner
      .stop(graceMs)
      .then(then)
      .finally(() => shutdownWorker(this.worker));
    return this.stopped;
  }

  /**
   * Serves the instance's queue until the worker ends. However it ends (the SDK's runtime also
   * shuts workers down on SIGTERM and SIGINT, and may finish first), the workload is stopped
   * before this returns: it runs in a process group of its own, which nothing else ends.
   */
  async run(): Promise<void> {
    try {
      await this.worker.run();
    } finally {
      await this.shutdown('the agent is exiting');
    }
  }
}

/** Shuts the worker down unless it already is (a second shutdown throws). */
function shutdownWorker(worker: Worker): void {
  if (worker.getState() !== 'RUNNING') return;
  try {
    worker.shutdown();
  } catch {
    /* it began to stop meanwhile */
  }
}
