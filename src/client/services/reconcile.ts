import { WorkflowFailedError, type Client } from '@temporalio/client';
import { reconcileNow as runReconcile } from '../../reconcile/schedule';
import type { ReconcileInput, ReconcileReport } from '../../workflows/reconcile';
import { CliError, ExitCode } from '../errors';

export { RECONCILE_WORKFLOW_TYPE, reconcileScheduleId } from '../../reconcile/schedule';

/** Runs one reconcile now (what `driftless gc` does) and waits for its report. */
export async function reconcileNow(
  client: Client,
  taskQueue: string,
  input: ReconcileInput,
  timeoutMs: number,
): Promise<ReconcileReport> {
  try {
    return await runReconcile(client, taskQueue, input, timeoutMs);
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
