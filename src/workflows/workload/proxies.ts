/**
 * The activities the workload workflow calls, each with the timeouts and retry policy its job
 * needs. Proxies only: the activities run in the worker (src/activities) and on the agents.
 */
import { ActivityCancellationType, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { ControlActivities } from '../../activities';
import type { AgentActivities } from '../../agent/activities';
import { FailureType, instanceTaskQueue } from '../../common/names';

export const { place } = proxyActivities<ControlActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumInterval: '20s', maximumAttempts: 10 },
});

// Polls the provider until the instance is up; bounded by the spec's startup grace, counted from
// the first schedule (a retry continues that clock), and retried a few times only: a worker
// that dies mid-wait costs one heartbeat timeout and a retry, never a wait without end.
export const { waitReady } = proxyActivities<ControlActivities>({
  startToCloseTimeout: '1h',
  heartbeatTimeout: '10s',
  retry: {
    initialInterval: '1s',
    maximumInterval: '10s',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [FailureType.InstanceNotReady],
  },
});

// Failures the workflow decides on are not retried by Temporal; transient ones are, a few times.
const provisionOptions: ActivityOptions = {
  startToCloseTimeout: '15m',
  heartbeatTimeout: '10s',
  retry: {
    initialInterval: '1s',
    maximumInterval: '30s',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [
      FailureType.Capacity,
      FailureType.Quota,
      FailureType.ProviderUnavailable,
      FailureType.InvalidRequest,
      FailureType.Auth,
    ],
  },
};

/** Before the provision-cancel patch: a cancellation resolves at once, the activity may run on. */
export const { provision } = proxyActivities<ControlActivities>(provisionOptions);

/**
 * A cancelled provision is waited for until the activity has really finished, so the cleanup
 * that follows sees everything it launched (and the instance it may still have returned).
 */
export const { provision: provisionToTheEnd } = proxyActivities<ControlActivities>({
  ...provisionOptions,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

// Terminations and the compensation of a cut-short provision are retried for a few minutes;
// one that still fails is recorded as abandoned, and reconcile (which treats abandoned instances
// and attempts as unclaimed) ends it, so a provider outage never holds the workload back.
export const { terminate, releaseAttempt } = proxyActivities<ControlActivities>({
  startToCloseTimeout: '2m',
  retry: { initialInterval: '1s', maximumInterval: '20s', maximumAttempts: 12 },
});

// After a loss the provider may well be the thing that is down: a few tries, then on.
export const { terminate: terminateBriefly } = proxyActivities<ControlActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumInterval: '4s', maximumAttempts: 3 },
});

// Polls the provider beside the agent's heartbeats; resumed on another worker after a crash.
export const { watchInstance } = proxyActivities<ControlActivities>({
  startToCloseTimeout: '3650d',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', maximumInterval: '10s' },
});

// Hands an instance to the installation's watcher: a signal, so quick; retried a few times, and
// without it the agent's heartbeats still supervise the instance.
export const { watch } = proxyActivities<ControlActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 5 },
});

// Asks the provider what became of an instance whose agent went away (preempted? terminated?).
export const { describeInstance } = proxyActivities<ControlActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '5s', maximumAttempts: 3 },
});

/**
 * The agent on one instance, reached on the instance's own task queue. A startup call must be
 * picked up and done within the startup grace; a supervision must heartbeat. Never retried:
 * a failed agent call is a fact about the instance, which the workflow decides on.
 */
export function agentOf(
  instanceId: string,
  opts: { startup: true; startupGraceMs: number } | { startup: false; heartbeatTimeoutMs: number },
) {
  return proxyActivities<AgentActivities>({
    taskQueue: instanceTaskQueue(instanceId),
    ...(opts.startup
      ? { scheduleToStartTimeout: opts.startupGraceMs, startToCloseTimeout: opts.startupGraceMs }
      : {
          scheduleToStartTimeout: opts.heartbeatTimeoutMs,
          startToCloseTimeout: '3650d',
          heartbeatTimeout: opts.heartbeatTimeoutMs,
        }),
    retry: { maximumAttempts: 1 },
  });
}

/**
 * The agent's graceful stop of its workload (SIGTERM, the stop grace, SIGKILL) before the
 * instance is terminated. A live agent picks it up at once; one that has not within a few
 * seconds is gone, and the terminate goes on without it.
 */
export function agentStop(instanceId: string, stopGraceMs: number) {
  return proxyActivities<AgentActivities>({
    taskQueue: instanceTaskQueue(instanceId),
    scheduleToStartTimeout: '5s',
    startToCloseTimeout: stopGraceMs + 15_000,
    retry: { maximumAttempts: 1 },
  }).stopWorkload;
}
