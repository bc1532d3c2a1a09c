/**
 * `driftless logs`: a workload's stdout and stderr, read from the agent on its instance through
 * Temporal (one short readLogsWorkflow per read, see src/workflows/logs.ts), so it works the same
 * on every provider and needs no SSH and no address.
 */
import { randomBytes } from 'node:crypto';
import { ActivityFailure, TimeoutFailure, WorkflowFailedError, type Client } from '@temporalio/client';
import { sleep } from '../../common/sleep';
import type { Config } from '../../config/config';
import type { ReadLogInput } from '../../agent/workload-log';
import { instanceTaskQueue } from '../../common/names';
import {
  DEFAULT_READ_LOGS_TIMEOUT_MS,
  LOGS_WORKFLOW_ID_PREFIX,
  READ_LOGS_WORKFLOW_TYPE,
  type readLogsWorkflow,
  type ReadLogsResult,
} from '../../workflows/logs';
import type { TimelineEvent } from '../../workflows/types';
import { CliError, ExitCode } from '../errors';
import { WorkloadService, type WorkloadView } from './workloads';

export interface LogsOptions {
  /** The instance before the current one (before a failover or a move), while its agent answers. */
  previous?: boolean;
  /** Only the last this many lines. @default all */
  tailLines?: number;
  /** Only what was written in the last this many milliseconds (on the agent's clock). */
  sinceAgoMs?: number;
  /** Keep printing new output, following the workload to its next instance, until `signal` aborts. */
  follow?: boolean;
  /** How long one read may wait for the agent. @default 15 s */
  timeoutMs?: number;
  /** How often `follow` asks for new output. @default 1000 */
  pollMs?: number;
  /** Ends `follow` (Ctrl-C). */
  signal?: AbortSignal;
  /** Where the log's text goes (stdout). */
  write: (text: string) => void;
  /** Where news about the reading goes (stderr): a move to another instance, a silent agent. */
  notice: (message: string) => void;
}

/** Which instance a read goes to. */
export interface LogTarget {
  instanceId: string;
  view: WorkloadView;
}

/** What a read that is not followed printed. */
export interface LogsResult {
  name: string;
  instanceId: string;
  previous: boolean;
  /** Byte offsets of what was printed, and the log's size. */
  offset: number;
  nextOffset: number;
  size: number;
  /** Some of what was asked for was left out (a tail longer than one read). */
  truncated: boolean;
  text: string;
}

/** The instances in a workload's timeline, newest first, each once. */
export function instancesOf(timeline: TimelineEvent[]): string[] {
  const ids: string[] = [];
  for (let i = timeline.length - 1; i >= 0; i--) {
    const id = timeline[i]!.instanceId;
    if (id && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

export class LogsService {
  private readonly workloads: WorkloadService;

  constructor(
    private readonly client: Client,
    private readonly config: Config,
  ) {
    this.workloads = new WorkloadService(client, config);
  }

  /**
   * The instance to read: the current one, or with `previous` the newest other one in the
   * timeline. Unknown workloads are exit 2 (as everywhere); a workload without one is exit 3.
   */
  async target(name: string, previous = false): Promise<LogTarget | { none: string; view: WorkloadView }> {
    const view = await this.workloads.status(name);
    if (!view.status) {
      throw new CliError(
        `no driftless worker answered the status query of ${name}, so its instance is unknown`,
        ExitCode.Failed,
        'is a worker running? (`driftless worker`, or `driftless dev` locally)',
      );
    }
    const current = view.status.current?.instanceId;
    if (previous) {
      const earlier = instancesOf(view.status.timeline).find((id) => id !== current);
      return earlier
        ? { instanceId: earlier, view }
        : { none: `${name} has had no instance before ${current ?? 'now'}: there is no previous log`, view };
    }
    if (view.workflowStatus !== 'RUNNING') {
      const ended = `workflow ${view.workflowStatus.toLowerCase()}, phase ${view.phase}`;
      return { none: `${name} is not running anywhere (${ended}); its log went with its instance`, view };
    }
    if (current) return { instanceId: current, view };
    return { none: `${name} runs on no instance right now (phase ${view.phase})`, view };
  }

  /** One read from the agent of `instanceId`, through a readLogsWorkflow. */
  async read(
    name: string,
    instanceId: string,
    read: ReadLogInput,
    timeoutMs?: number,
  ): Promise<ReadLogsResult> {
    const timeout = timeoutMs ?? DEFAULT_READ_LOGS_TIMEOUT_MS;
    try {
      return await this.client.workflow.execute<typeof readLogsWorkflow>(READ_LOGS_WORKFLOW_TYPE, {
        workflowId: `${LOGS_WORKFLOW_ID_PREFIX}${name}-${randomBytes(4).toString('hex')}`,
        taskQueue: this.config.temporal.taskQueue,
        args: [{ instanceId, read, timeoutMs: timeout }],
        // Bounded, so a read nobody runs (no worker) never lingers in the namespace.
        workflowExecutionTimeout: timeout + 15_000,
      });
    } catch (err) {
      throw readError(err, instanceId, timeout);
    }
  }

  /**
   * Prints the log (or the part asked for); with `follow`, then prints what is added until
   * `signal` aborts, following the workload to the next instance after a failover or a move.
   */
  async print(name: string, opts: LogsOptions): Promise<LogsResult | undefined> {
    const target = await this.target(name, opts.previous);
    if ('none' in target)
      throw new CliError(target.none, ExitCode.Failed, `see the timeline: driftless status ${name}`);
    const first: ReadLogInput = { tailLines: opts.tailLines, sinceAgoMs: opts.sinceAgoMs };
    let chunk = await this.readOrExplain(name, target.instanceId, first, opts);
    opts.write(chunk.text);
    const result: LogsResult = {
      name,
      instanceId: target.instanceId,
      previous: !!opts.previous,
      offset: chunk.offset,
      nextOffset: chunk.nextOffset,
      size: chunk.size,
      truncated: opts.tailLines !== undefined && chunk.truncated,
      text: chunk.text,
    };
    if (result.truncated) opts.notice(`(earlier lines left out: a tail reads at most 256 KiB)`);
    // Whatever was there at the first read, in as many reads as it takes (each one is capped).
    const end = chunk.size;
    while (opts.tailLines === undefined && chunk.nextOffset < end && !opts.signal?.aborted) {
      chunk = await this.readOrExplain(name, target.instanceId, { offset: chunk.nextOffset }, opts);
      if (chunk.nextOffset <= result.nextOffset) break; // nothing more came: do not spin
      opts.write(chunk.text);
      result.text += chunk.text;
      result.nextOffset = chunk.nextOffset;
      result.size = chunk.size;
    }
    if (!opts.follow) return result;
    await this.follow(name, target.instanceId, result.nextOffset, opts);
    return undefined;
  }

  /**
   * A read of the instance the command asked for, its failures told in those terms. A task queue
   * that no agent has polled lately fails at once, rather than after the read's timeout: the
   * instance is gone (the server forgets pollers a few minutes after their last poll).
   */
  private async readOrExplain(
    name: string,
    instanceId: string,
    read: ReadLogInput,
    opts: LogsOptions,
  ): Promise<ReadLogsResult> {
    const what = opts.previous
      ? `the previous instance of ${name}, ${instanceId},`
      : `instance ${instanceId}`;
    const hint = opts.previous
      ? 'a previous log can be read only while its instance and agent still run'
      : undefined;
    if ((await this.agentPolls(instanceId)) === false) {
      throw new CliError(`${what} is gone: no agent polls its task queue`, ExitCode.Failed, hint);
    }
    try {
      return await this.read(name, instanceId, read, opts.timeoutMs);
    } catch (err) {
      if (err instanceof AgentSilentError)
        throw new CliError(`${what} does not answer: ${err.message}`, ExitCode.Failed, hint);
      throw err;
    }
  }

  /** Whether an agent has polled the instance's task queue lately (the server's poller list); undefined: unknown. */
  private async agentPolls(instanceId: string): Promise<boolean | undefined> {
    try {
      const res = await this.client.workflowService.describeTaskQueue({
        namespace: this.config.temporal.namespace,
        taskQueue: { name: instanceTaskQueue(instanceId) },
        taskQueueType: TASK_QUEUE_TYPE_ACTIVITY,
      });
      return (res.pollers ?? []).length > 0;
    } catch {
      return undefined; // not allowed, or an older server: let the read find out
    }
  }

  /** Polls for new output until aborted; switches to the workload's next instance when it moves. */
  private async follow(name: string, instanceId: string, offset: number, opts: LogsOptions): Promise<void> {
    const pollMs = opts.pollMs ?? 1000;
    let current: string | undefined = instanceId;
    let waiting = false;
    let silent = false;
    while (!opts.signal?.aborted) {
      try {
        await sleep(pollMs, opts.signal);
      } catch {
        return; // aborted
      }
      // Where it runs now (a read of the old instance would wait out its timeout first).
      const now = await this.target(name).catch((err: unknown) => {
        if (err instanceof CliError && err.exitCode === ExitCode.Usage) throw err;
        return undefined; // a slow query: try again at the next poll
      });
      if (now && 'none' in now) {
        if (now.view.workflowStatus !== 'RUNNING') {
          opts.notice(`${name} has ended (phase ${now.view.phase})`);
          return;
        }
        if (!waiting) opts.notice(`${name} runs on no instance right now; waiting for the next one`);
        waiting = true;
        continue;
      }
      waiting = false;
      if (now && now.instanceId !== current) {
        opts.notice(
          `${name} moved${current ? ` from ${current}` : ''} to ${now.instanceId}; following it there`,
        );
        current = now.instanceId;
        offset = 0;
      }
      if (!current) continue;
      try {
        const chunk = await this.abortable(this.read(name, current, { offset }, opts.timeoutMs), opts.signal);
        if (!chunk) return;
        if (chunk.reset) opts.notice(`the log of ${current} was replaced; reading it from the start`);
        opts.write(chunk.text);
        offset = chunk.nextOffset;
        if (silent) opts.notice(`the agent of ${current} answers again`);
        silent = false;
      } catch (err) {
        if (!(err instanceof CliError) || err.exitCode !== ExitCode.Failed) throw err;
        if (!silent) opts.notice(`instance ${current}: ${err.message}; still trying`);
        silent = true;
      }
    }
  }

  /** `p`, or undefined as soon as `signal` aborts (the read itself ends by its own timeout). */
  private abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T | undefined> {
    if (!signal) return p;
    if (signal.aborted) return Promise.resolve(undefined);
    return new Promise<T | undefined>((resolve, reject) => {
      const onAbort = () => resolve(undefined);
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }
}

/** temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY (@temporalio/proto is not a dependency). */
const TASK_QUEUE_TYPE_ACTIVITY = 2;

/** A read that no agent picked up in time: the instance is gone, or its agent is. */
export class AgentSilentError extends CliError {
  constructor(
    readonly instanceId: string,
    readonly timeoutMs: number,
  ) {
    super(`its agent did not answer within ${timeoutMs / 1000}s`, ExitCode.Failed);
  }
}

/** A failed read, for people: an agent that never answered, or one that could not read its log. */
function readError(err: unknown, instanceId: string, timeoutMs: number): unknown {
  if (!(err instanceof WorkflowFailedError)) return err;
  const cause = err.cause;
  if (cause instanceof TimeoutFailure) {
    // The workflow itself timed out: no worker ran it.
    return new CliError(
      `no driftless worker ran the log read of ${instanceId}`,
      ExitCode.Failed,
      'is a worker running? (`driftless worker`, or `driftless dev` locally)',
    );
  }
  if (cause instanceof ActivityFailure && cause.cause instanceof TimeoutFailure) {
    return new AgentSilentError(instanceId, timeoutMs);
  }
  const why =
    cause instanceof ActivityFailure
      ? (cause.cause?.message ?? cause.message)
      : (cause?.message ?? err.message);
  return new CliError(`reading the log of ${instanceId} failed: ${why}`, ExitCode.Failed);
}
