/**
 * The reconcile schedule of an installation (a Temporal Schedule starting the reconcile workflow),
 * and a reconcile run on demand. Used by the worker, which creates the schedule, and by the CLI.
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { reconcileWorkflow } from '../workflows';

type ReconcileInput = Parameters<typeof reconcileWorkflow>[0];
type ReconcileReport = Awaited<ReturnType<typeof reconcileWorkflow>>;

/** Workflow type name of the reconcile workflow as the worker registers it. */
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

/** Runs one reconcile now and waits for its report (a failed run rejects with WorkflowFailedError). */
export async function reconcileNow(
  client: Client,
  taskQueue: string,
  input: ReconcileInput,
  timeoutMs: number,
): Promise<ReconcileReport> {
  const handle = await client.workflow.start<typeof reconcileWorkflow>(RECONCILE_WORKFLOW_TYPE, {
    taskQueue,
    workflowId: `driftless-gc-${Date.now().toString(36)}`,
    args: [input],
    workflowExecutionTimeout: Math.max(1000, timeoutMs),
  });
  return handle.result();
}
