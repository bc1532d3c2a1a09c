import { get as httpGet } from 'node:http';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Notice } from './notices';
import type { StartedWorkload, StartWorkloadInput, WorkloadExit, WorkloadRunner } from './runner';
import { readLog, type LogChunk, type ReadLogInput } from './workload-log';

// The runner and its types, for the callers that know them from here.
export {
  DEFAULT_STOP_GRACE_MS,
  WorkloadRunner,
  workloadBaseEnv,
  type AgentDeps,
  type StartedWorkload,
  type StartWorkloadInput,
  type WorkloadExit,
} from './runner';
export { MAX_LOG_READ_BYTES, type LogChunk, type ReadLogInput } from './workload-log';

/** The HTTP check of a workload, run by the agent against 127.0.0.1:PORT. */
export interface HttpCheck {
  path: string;
  timeoutMs: number;
  intervalMs: number;
  /** Consecutive failed checks before the workload counts as unhealthy (one never does). */
  failureThreshold: number;
}

export interface SuperviseInput {
  /** How often to heartbeat; a third of the workflow's heartbeat timeout. */
  heartbeatIntervalMs: number;
  /**
   * Return `{ outcome: 'running' }` after this long, so the workflow gets a point where it can
   * continue-as-new without cancelling (and so stopping) the workload. @default never
   */
  sliceMs?: number;
  http?: HttpCheck;
  /**
   * Return `{ outcome: 'notice' }` as soon as the metadata service gives a spot or maintenance
   * notice (once per notice: a supervision after it is not ended by the same one). @default false
   */
  notices?: boolean;
}

/** How a supervision ended. */
export type SuperviseResult =
  | ({ outcome: 'exited' } & WorkloadExit)
  /** The slice ended; the workload runs on. */
  | { outcome: 'running' }
  /** `failureThreshold` HTTP checks in a row failed; the workload is still running. */
  | { outcome: 'unhealthy'; reason: string }
  /** The provider gave notice that the machine goes soon; the workload is still running. */
  | { outcome: 'notice'; notice: Notice };

/** What a stop found and did. */
export interface StopResult {
  /** A workload was running and has now been stopped. */
  stopped: boolean;
  exit?: WorkloadExit;
}

/** Activities the agent serves on its instance's own task queue. */
export interface AgentActivities {
  startWorkload(input: StartWorkloadInput): Promise<StartedWorkload>;
  /**
   * Stops the workload: SIGTERM to its process group, up to `graceMs` (else the start's stop
   * grace) for it to exit, then SIGKILL. Done before the instance is terminated, so a workload
   * can checkpoint or drain.
   */
  stopWorkload(input: { graceMs?: number }): Promise<StopResult>;
  /** Until the workload answers its HTTP check (fails when it exits or `timeoutMs` passes). */
  waitHealthy(input: { http: HttpCheck; timeoutMs: number }): Promise<{ port: number; checks: number }>;
  superviseWorkload(input: SuperviseInput): Promise<SuperviseResult>;
  /**
   * Part of the workload's stdout and stderr (workload.log, every run on this instance), for
   * `driftless logs`: at most 256 KiB a call, so it stays far below Temporal's payload limit.
   */
  readWorkloadLog(input: ReadLogInput): Promise<LogChunk>;
}

/** One HTTP check: any answer from 200 to 399 within the timeout passes. Resolves to why it failed, or undefined. */
export function checkHttp(
  port: number,
  check: Pick<HttpCheck, 'path' | 'timeoutMs'>,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = httpGet({ host: '127.0.0.1', port, path: check.path, timeout: check.timeoutMs }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= 200 && code < 400 ? undefined : `GET ${check.path} answered ${code}`);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${check.timeoutMs} ms`)));
    req.on('error', (err) => resolve(`GET ${check.path}: ${err.message}`));
  });
}

export function createAgentActivities(runner: WorkloadRunner): AgentActivities {
  return {
    async startWorkload(input) {
      return runner.start(input);
    },

    async stopWorkload({ graceMs }) {
      const wasRunning = runner.hasStarted() && runner.exit() === undefined;
      await runner.stop(graceMs);
      return { stopped: wasRunning, exit: runner.exit() };
    },

    async waitHealthy({ http, timeoutMs }) {
      const ctx = Context.current();
      const port = runner.port();
      if (port === undefined) throw new Error('the workload was not started with an HTTP port');
      const deadline = Date.now() + timeoutMs;
      let checks = 0;
      let last: string | undefined;
      for (;;) {
        const exit = runner.exit();
        if (exit) {
          throw ApplicationFailure.nonRetryable(
            `the workload exited before it answered ${http.path} (${exitText(exit)})`,
            'WorkloadExited',
            exit,
          );
        }
        checks++;
        last = await checkHttp(port, http);
        if (last === undefined) return { port, checks };
        if (Date.now() > deadline) {
          throw ApplicationFailure.nonRetryable(
            `the workload did not answer ${http.path} on port ${port} within ${timeoutMs / 1000}s: ${last}`,
            'WorkloadUnhealthy',
          );
        }
        ctx.heartbeat({ checks, last });
        await ctx.sleep(Math.min(http.intervalMs, 250));
      }
    },

    async superviseWorkload({ heartbeatIntervalMs, sliceMs, http, notices }) {
      const ctx = Context.current();
      if (!runner.hasStarted()) throw new Error('no workload has been started on this agent');
      const timer = setInterval(() => ctx.heartbeat(), Math.max(200, heartbeatIntervalMs));
      ctx.heartbeat();
      const timers: NodeJS.Timeout[] = [];
      try {
        const cancelled = new Promise<'cancelled'>((resolve) => {
          if (ctx.cancellationSignal.aborted) resolve('cancelled');
          ctx.cancellationSignal.addEventListener('abort', () => resolve('cancelled'), { once: true });
        });
        const sliceOver = new Promise<SuperviseResult>((resolve) => {
          if (sliceMs !== undefined) timers.push(setTimeout(() => resolve({ outcome: 'running' }), sliceMs));
        });
        const port = runner.port();
        const unhealthy = new Promise<SuperviseResult>((resolve) => {
          if (!http || port === undefined) return;
          let failures = 0;
          const probe = async () => {
            const why = await checkHttp(port, http);
            failures = why === undefined ? 0 : failures + 1;
            if (why !== undefined && failures >= http.failureThreshold) {
              resolve({
                outcome: 'unhealthy',
                reason: `${failures} HTTP checks failed in a row; last: ${why}`,
              });
              return;
            }
            if (!ctx.cancellationSignal.aborted) timers.push(setTimeout(() => void probe(), http.intervalMs));
          };
          timers.push(setTimeout(() => void probe(), http.intervalMs));
        });
        const exited = runner.waitExit().then((e): SuperviseResult => ({ outcome: 'exited', ...e }));
        const next = notices ? runner.nextNotice() : undefined;
        const noticed = next
          ? next.promise.then((notice): SuperviseResult => ({ outcome: 'notice', notice }))
          : new Promise<SuperviseResult>(() => undefined);
        const result = await Promise.race([exited, cancelled, sliceOver, unhealthy, noticed]);
        if (result !== 'cancelled' && result.outcome === 'notice') next?.taken();
        if (result === 'cancelled') {
          await runner.stop();
          throw new CancelledFailure('workload stopped: supervision was cancelled');
        }
        if (result.outcome === 'exited' && runner.isShuttingDown()) {
          // Not the workload's own failure: the machine under it is going away.
          throw ApplicationFailure.nonRetryable(
            'the instance is shutting down; the workload was stopped with it',
            'InstanceShuttingDown',
          );
        }
        return result;
      } finally {
        clearInterval(timer);
        for (const t of timers) clearTimeout(t);
      }
    },

    async readWorkloadLog(input) {
      return readLog(runner.logPath(), input, runner.logIndex);
    },
  };
}

function exitText(e: WorkloadExit): string {
  return e.error ?? (e.signal ? `signal ${e.signal}` : `exit code ${e.exitCode}`);
}
