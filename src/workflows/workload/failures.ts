/** Reading the failures activities raise: their type, the scope they block, words for the timeline. */
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import type { FailureScope } from '../../providers/types';

/** Why an agent activity failed, in words for the timeline. */
export function agentFailureReason(err: unknown, heartbeatTimeoutMs: number, startupGraceMs: number): string {
  if (err instanceof ActivityFailure && err.cause instanceof TimeoutFailure) {
    switch (err.cause.timeoutType) {
      case 'HEARTBEAT':
        return `agent heartbeat missing for ${heartbeatTimeoutMs / 1000}s`;
      case 'SCHEDULE_TO_START':
        return `agent did not answer within ${startupGraceMs / 1000}s`;
      default:
        return `agent timed out (${err.cause.timeoutType})`;
    }
  }
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
    return `agent: ${err.cause.message}`;
  }
  return `agent failed: ${(err as Error).message}`;
}

/** The ApplicationFailure behind an activity failure (or the error itself). */
function applicationFailure(err: unknown): ApplicationFailure | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? cause : undefined;
}

/** The failure's `type` (a FailureType), when it has one. */
export function failureTypeOf(err: unknown): string | undefined {
  return applicationFailure(err)?.type ?? undefined;
}

/** The location scope a provider failure blocks (zone, region or provider), when it says. */
export function failureScopeOf(err: unknown): FailureScope | undefined {
  const d = applicationFailure(err)?.details?.[0] as { scope?: FailureScope } | undefined;
  return d?.scope;
}

/** The message of the failure behind an activity failure. */
export function messageOf(err: unknown): string {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return (cause as Error).message;
}
