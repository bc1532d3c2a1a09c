import { WorkflowFailedError } from '@temporalio/client';
import { CliError, ExitCode } from '../errors';

export { RECONCILE_WORKFLOW_TYPE, reconcileScheduleId } from '../../reconcile/schedule';

/** A reconcile run that failed, explained for people (exit 3); any other error as it is. */
export function reconcileFailure(err: unknown, taskQueue: string): unknown {
  if (!(err instanceof WorkflowFailedError)) return err;
  const why = err.cause?.message ?? err.message;
  return new CliError(
    `reconcile did not finish: ${why}`,
    ExitCode.Failed,
    `is a worker polling task queue "${taskQueue}"? start one with \`driftless worker\``,
  );
}
