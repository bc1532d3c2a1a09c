/**
 * `driftless logs`: one short workflow per read. The CLI cannot call an activity itself, and
 * the agent serves its activities only on its instance's own task queue, so this workflow (on
 * the driftless task queue) asks that queue for one chunk of the log and returns it. It is a
 * workflow of its own, never an update of the workload's workflow: reading logs adds nothing to
 * the workload's history, and `driftless ls` lists workload workflows by type, so these never
 * show up there.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { AgentActivities, LogChunk, ReadLogInput } from '../agent/activities';
import { instanceTaskQueue } from '../common/names';
import { shortId } from './details';

/** The workflow type, as the CLI starts it. */
export const READ_LOGS_WORKFLOW_TYPE = 'readLogsWorkflow';

/** Workflow ids of log reads: `logs-<name>-<random>`. */
export const LOGS_WORKFLOW_ID_PREFIX = 'logs-';

/** How long a read may take, waiting for the agent included. @default 15 s */
export const DEFAULT_READ_LOGS_TIMEOUT_MS = 15_000;

export interface ReadLogsInput {
  /** The instance whose agent is asked (its task queue is `instance-<id>`). */
  instanceId: string;
  read: ReadLogInput;
  /** How long the read may take in all, waiting for the agent included. @default 15 s */
  timeoutMs?: number;
}

export interface ReadLogsResult extends LogChunk {
  instanceId: string;
}

/**
 * Reads one chunk of a workload's log from the agent of `instanceId`. A read that no agent
 * picks up within the timeout (the instance is gone, or its agent is) fails with the
 * activity's timeout, which the CLI reports as "the agent does not answer".
 */
export async function readLogsWorkflow(input: ReadLogsInput): Promise<ReadLogsResult> {
  const { readWorkloadLog } = proxyActivities<Pick<AgentActivities, 'readWorkloadLog'>>({
    taskQueue: instanceTaskQueue(input.instanceId),
    // Short: someone is waiting at a terminal, and a live agent answers in milliseconds.
    scheduleToCloseTimeout: input.timeoutMs ?? DEFAULT_READ_LOGS_TIMEOUT_MS,
    startToCloseTimeout: '5s',
    // A read changes nothing, so a retry is safe; a couple cover a slot-starved or restarting poll.
    retry: { initialInterval: '500ms', maximumAttempts: 3 },
  });
  const summary = `read workload.log on ${shortId(input.instanceId)}`;
  const chunk = await readWorkloadLog.executeWithOptions({ summary }, [input.read]);
  return { ...chunk, instanceId: input.instanceId };
}
