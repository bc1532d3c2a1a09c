import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  WorkflowFailedError,
  type Client,
} from '@temporalio/client';
import type { ReconcileInput, ReconcileReport } from '../../workflows/reconcile';
import { CliError, ExitCode } from '../errors';

export const RECONCILE_WORKFLOW_TYPE = 'reconcileWorkflow';

/** The schedule of an installation: one per owner and task queue. */
export function reconcileScheduleId(owner: string, taskQueue: string): string {
  return `driftless-reconcile-${owner}-${taskQueue}`;
}

export interface ScheduleOptions {
  owner: string;
  taskQueue: string;
  everyMs: number;
  graceMs: number;
}

/**
 * Creates the reconcile schedule when it does not exist yet (an existing one is left as it is,
 * so several workers starting at once agree). Returns whether it was created.
 */
export async function ensureReconcileSchedule(client: Client, o: ScheduleOptions): Promise<boolean> {
  const scheduleId = reconcileScheduleId(o.owner, o.taskQueue);
  try {
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: o.everyMs }] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
      action: {
        type: 'startWorkflow',
        workflowType: RECONCILE_WORKFLOW_TYPE,
        workflowId: `driftless-reconcile-${o.owner}`,
        taskQueue: o.taskQueue,
        args: [{ graceMs: o.graceMs } satisfies ReconcileInput],
        workflowExecutionTimeout: '30m',
      },
      memo: { driftless: 'reconcile' },
    });
    return true;
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) return false;
    throw err;
  }
}

/** Runs one reconcile now (what `driftless gc` does) and waits for its report. */
export async function reconcileNow(
  client: Client,
  taskQueue: string,
  input: ReconcileInput,
  timeoutMs: number,
): Promise<ReconcileReport> {
  const handle = await client.workflow.start(RECONCILE_WORKFLOW_TYPE, {
    taskQueue,
    workflowId: `driftless-gc-${Date.now().toString(36)}`,
    args: [input],
    workflowExecutionTimeout: Math.max(1000, timeoutMs),
  });
  try {
    return (await handle.result()) as ReconcileReport;
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      const why = err.cause?.message ?? err.message;
      throw new CliError(
        `reconcile did not finish: ${why}`,
        ExitCode.Failed,
        `is a worker polling task queue "${taskQueue}"? start one with \`driftless worker\``,
      );
    }
    throw err;
  }
}
