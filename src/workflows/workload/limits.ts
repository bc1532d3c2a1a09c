/**
 * Recovery limits: a workload that can never start, or whose instances keep being lost, stops
 * costing money. Consecutive failed starts (reset when it runs) and losses within a window are
 * counted; past recovery.maxStartFailures or recovery.maxRecoveries the workflow fails with
 * what went wrong each time. Behind a patch: a workflow that already ran past a limit before
 * the limits existed replays as it ran.
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import { FailureType } from '../../common/names';
import { recoveryLimits } from '../../spec/recovery-defaults';
import type { WorkloadState } from './state';

const PATCH_RECOVERY_LIMITS = 'recovery-limits';
/** Reasons kept for the failure message. */
const KEPT = 50;

/** A start that never reached RUNNING (the instance never became ready, or never started the workload). */
export function recordFailedStart(state: WorkloadState, why: string): void {
  state.status.failedStarts = [...(state.status.failedStarts ?? []), why].slice(-KEPT);
}

/** The workload runs: failed starts before this one no longer count. */
export function clearFailedStarts(state: WorkloadState): void {
  if (state.status.failedStarts?.length) state.status.failedStarts = [];
}

/** Fails the workflow once recovery.maxStartFailures starts in a row have failed. */
export function failIfStartsExhausted(state: WorkloadState): void {
  const failed = state.status.failedStarts ?? [];
  const { maxStartFailures } = recoveryLimits(state.spec.recovery);
  if (failed.length < maxStartFailures || !patched(PATCH_RECOVERY_LIMITS)) return;
  const each = failed.map((f, i) => `(${i + 1}) ${f}`).join('; ');
  fail(
    state,
    FailureType.StartFailed,
    `${state.spec.name} never started: ${failed.length} starts in a row failed (recovery.maxStartFailures ${maxStartFailures}): ${each}`,
  );
}

/** A running instance was lost; losses older than the window are forgotten. */
export function recordLoss(state: WorkloadState, reason: string): void {
  const now = Date.now();
  const { recoveryWindow } = recoveryLimits(state.spec.recovery);
  const kept = (state.status.recentLosses ?? []).filter((l) => now - l.at <= recoveryWindow);
  state.status.recentLosses = [...kept, { at: now, reason }].slice(-KEPT);
}

/** Fails the workflow once more than recovery.maxRecoveries losses fall within the window. */
export function failIfTooManyLosses(state: WorkloadState): void {
  const losses = state.status.recentLosses ?? [];
  const { maxRecoveries, recoveryWindow } = recoveryLimits(state.spec.recovery);
  if (losses.length <= maxRecoveries || !patched(PATCH_RECOVERY_LIMITS)) return;
  const each = losses.map((l, i) => `(${i + 1}) ${l.reason}`).join('; ');
  fail(
    state,
    FailureType.TooManyRecoveries,
    `${state.spec.name} lost its instance ${losses.length} times within ${recoveryWindow / 1000}s ` +
      `(recovery.maxRecoveries ${maxRecoveries}): ${each}`,
  );
}

function fail(state: WorkloadState, type: string, message: string): never {
  state.setPhase('FAILED');
  state.event('failed', message);
  throw ApplicationFailure.create({ type, message, nonRetryable: true });
}
