import { spawn } from 'node:child_process';
import { openSync, closeSync, writeFileSync, renameSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { identify, isAlive, killGroup, type ProcessIdentity } from '../providers/local/processes';

export interface StartWorkloadInput {
  workload: string;
  command: string[];
  env: Record<string, string>;
}

export interface StartedWorkload {
  pid: number;
  host: string;
  logPath: string;
  startedAt: string;
}

export interface SuperviseInput {
  /** How often to heartbeat; a third of the workflow's heartbeat timeout. */
  heartbeatIntervalMs: number;
}

export interface WorkloadExit {
  exitCode: number | null;
  signal: string | null;
  /** Set when the command could not be started at all. */
  error?: string;
}

/**
 * The agent's environment minus what belongs to the control plane: Temporal credentials, cloud
 * credentials and driftless's own settings. The instance id and GPUs stay.
 */
export function workloadBaseEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const keep = new Set(['DRIFTLESS_INSTANCE_ID', 'CUDA_VISIBLE_DEVICES']);
  return Object.fromEntries(
    Object.entries(env).filter(
      ([k]) => keep.has(k) || !/^(TEMPORAL_|DRIFTLESS_|AWS_|GOOGLE_|CLOUDSDK_)/.test(k),
    ),
  );
}

/** Activities the agent serves on its instance's own task queue. */
export interface AgentActivities {
  startWorkload(input: StartWorkloadInput): Promise<StartedWorkload>;
  superviseWorkload(input: SuperviseInput): Promise<WorkloadExit>;
}

export interface AgentDeps {
  instanceId: string;
  /** Directory for workload.log and agent.json. */
  dir: string;
  logger: Logger;
}

/** The agent's process-level state: one workload per instance. */
export class WorkloadRunner {
  private child?: { identity: ProcessIdentity; started: StartedWorkload };
  private exited?: WorkloadExit;
  private exitWaiters: Array<(e: WorkloadExit) => void> = [];
  private ready = false;
  /** Set when the instance itself is going away (the agent got SIGTERM). */
  private shuttingDown = false;

  constructor(private readonly deps: AgentDeps) {}

  /** Written for the local provider, which ends the workload's process group on terminate. */
  writeStatus(ready = this.ready): void {
    this.ready = ready;
    const file = join(this.deps.dir, 'agent.json');
    writeFileSync(
      file + '.tmp',
      JSON.stringify({
        pid: process.pid,
        ready,
        workload: this.child?.identity,
        instanceId: this.deps.instanceId,
      }),
    );
    renameSync(file + '.tmp', file);
  }

  start(input: StartWorkloadInput): StartedWorkload {
    // Idempotent: a retried start returns the workload that is already running.
    if (this.child) return this.child.started;
    const logPath = join(this.deps.dir, 'workload.log');
    const out = openSync(logPath, 'a');
    try {
      const [cmd, ...args] = input.command;
      const child = spawn(cmd!, args, {
        detached: true, // own process group, so stopping it reaches its children too
        stdio: ['ignore', out, out],
        env: { ...workloadBaseEnv(process.env), ...input.env, DRIFTLESS_WORKLOAD: input.workload },
        cwd: this.deps.dir,
      });
      const started: StartedWorkload = {
        pid: child.pid ?? -1,
        host: hostname(),
        logPath,
        startedAt: new Date().toISOString(),
      };
      child.on('error', (err) => this.finish({ exitCode: 127, signal: null, error: err.message }));
      child.on('exit', (code, signal) => this.finish({ exitCode: code, signal }));
      const identity = child.pid !== undefined ? identify(child.pid) : undefined;
      this.child = { identity: identity ?? { pid: child.pid ?? -1, startTime: 'unknown' }, started };
      this.writeStatus();
      this.deps.logger.info({ pid: child.pid, command: input.command }, 'workload started');
      return started;
    } finally {
      closeSync(out);
    }
  }

  private finish(exit: WorkloadExit) {
    if (this.exited) return;
    this.exited = exit;
    this.deps.logger.info(exit, 'workload exited');
    for (const w of this.exitWaiters.splice(0)) w(exit);
  }

  /** Resolves when the workload exits. */
  waitExit(): Promise<WorkloadExit> {
    if (this.exited) return Promise.resolve(this.exited);
    return new Promise((r) => this.exitWaiters.push(r));
  }

  /** The instance is being terminated: a workload exit from now on is the instance's loss. */
  beginShutdown(): void {
    this.shuttingDown = true;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  hasStarted(): boolean {
    return !!this.child;
  }

  /** SIGTERM to the workload's process group, SIGKILL after the grace period. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.child && !this.exited && isAlive(this.child.identity)) {
      await killGroup(this.child.identity, graceMs);
    }
  }
}

export function createAgentActivities(runner: WorkloadRunner): AgentActivities {
  return {
    async startWorkload(input) {
      return runner.start(input);
    },

    async superviseWorkload({ heartbeatIntervalMs }) {
      const ctx = Context.current();
      if (!runner.hasStarted()) throw new Error('no workload has been started on this agent');
      const timer = setInterval(() => ctx.heartbeat(), Math.max(200, heartbeatIntervalMs));
      ctx.heartbeat();
      try {
        const cancelled = new Promise<'cancelled'>((resolve) => {
          if (ctx.cancellationSignal.aborted) resolve('cancelled');
          ctx.cancellationSignal.addEventListener('abort', () => resolve('cancelled'), { once: true });
        });
        const result = await Promise.race([runner.waitExit(), cancelled]);
        if (result === 'cancelled') {
          await runner.stop();
          throw new CancelledFailure('workload stopped: supervision was cancelled');
        }
        if (runner.isShuttingDown()) {
          // Not the workload's own failure: the machine under it is going away.
          throw ApplicationFailure.nonRetryable(
            'the instance is shutting down; the workload was stopped with it',
            'InstanceShuttingDown',
          );
        }
        return result;
      } finally {
        clearInterval(timer);
      }
    },
  };
}
