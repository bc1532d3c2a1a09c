/**
 * The spec's budget (budget.maxTotal): once what the workload's instances have cost reaches it,
 * the workload is stopped, a job as failed, with the reason in its status. The ledger is the
 * status's (src/common/cost.ts); the cost only grows while an instance is charged, so the check
 * runs before each placement and, while one runs, when the current rate would reach the budget.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { budgetReachedAt, costSoFar, formatUsd } from '../../common/cost';
import { FailureType } from '../../common/names';
import type { WorkloadResult } from '../types';
import { terminateCurrent } from './recovery';
import type { WorkloadState } from './state';

/** Whether the budget is spent; if so, the workload is to stop, and why is set. */
export function budgetSpent(state: WorkloadState): boolean {
  const max = state.spec.budget?.maxTotal;
  if (max === undefined || state.budgetReason !== undefined) return state.budgetReason !== undefined;
  const spent = costSoFar(state.status.cost, Date.now());
  if (spent < max) return false;
  state.budgetReason = `budget reached: ${formatUsd(spent)} of ${formatUsd(max)} (budget.maxTotal)`;
  state.stopReason ??= state.budgetReason;
  return true;
}

/** Milliseconds until the budget is reached at the current rate; undefined without a budget or a charge. */
export function msUntilBudget(state: WorkloadState): number | undefined {
  const max = state.spec.budget?.maxTotal;
  if (max === undefined) return undefined;
  const now = Date.now();
  const at = budgetReachedAt(state.status.cost, max, now);
  return at === undefined ? undefined : Math.max(1, at - now);
}

/** Ends the workload over its budget: the instance goes; a service is STOPPED, a job FAILED. */
export async function finishOverBudget(state: WorkloadState): Promise<WorkloadResult> {
  const reason = state.budgetReason!;
  state.setPhase('STOPPING');
  state.event('stopping', `stopping: ${reason}`);
  await terminateCurrent(state, 'budget reached', { graceful: true });
  if (state.spec.kind === 'job') {
    state.setPhase('FAILED');
    state.event('failed', `job failed: ${reason}`);
    throw ApplicationFailure.create({
      type: FailureType.BudgetExceeded,
      message: reason,
      nonRetryable: true,
    });
  }
  state.setPhase('STOPPED');
  state.event('stopped', reason);
  state.status.result = { phase: 'STOPPED', message: reason };
  return state.status.result;
}
