/**
 * Racing an activity against what can overtake it: the provider's own view of the instance
 * (a lost machine), and a stop request. Whichever comes first wins; the others are cancelled.
 */
import { CancellationScope, condition, isCancellation, patched } from '@temporalio/workflow';
import type { HttpCheck } from '../../agent/activities';
import type { InstanceRef, InstanceState } from '../../providers/types';
import type { WorkloadSpec } from '../../spec/workload-spec';
import { describeInstance, watch, watchInstance } from './proxies';
import { agentFailureReason } from './failures';
import { shortId } from '../details';
import type { WorkloadState } from './state';

/** Patch: the provider-side check is the installation's batched watcher, not an activity per instance. */
const PATCH_BATCHED_WATCH = 'batched-watch';

export type AgentOutcome<T> =
  | { kind: 'done'; value: T }
  /** `state`: what the provider reported, when it was the provider that saw the loss. */
  | { kind: 'lost'; reason: string; state?: InstanceState }
  | { kind: 'stop' };

/** The agent's HTTP health check for a spec, when it has one. */
export function httpCheck(spec: WorkloadSpec): HttpCheck | undefined {
  return (
    spec.health.http && {
      path: spec.health.http.path,
      timeoutMs: spec.health.http.timeout,
      intervalMs: spec.health.http.interval,
      failureThreshold: spec.health.http.failureThreshold,
    }
  );
}

/**
 * Runs an agent call while the provider's own view of the instance is polled beside it and
 * a stop request is watched for; whichever comes first wins and the others are cancelled.
 */
export async function raceAgent<T>(
  state: WorkloadState,
  ref: InstanceRef,
  call: () => Promise<T>,
): Promise<AgentOutcome<T>> {
  return CancellationScope.cancellable(async () => {
    const scope = CancellationScope.current();
    const main = call().then(
      (value): AgentOutcome<T> => ({ kind: 'done', value }),
      (err): AgentOutcome<T> => {
        if (isCancellation(err) && scope.consideredCancelled) throw err;
        const { heartbeatTimeout, startupGrace } = state.spec.health;
        return { kind: 'lost', reason: agentFailureReason(err, heartbeatTimeout, startupGrace) };
      },
    );
    const watch = providerWatch(state, ref).then(
      (st): AgentOutcome<T> => ({ kind: 'lost', reason: `provider reports the instance ${st}`, state: st }),
      (err) => (isCancellation(err) ? Promise.reject(err) : new Promise<AgentOutcome<T>>(() => undefined)),
    );
    const stop = condition(() => state.stopped).then((): AgentOutcome<T> => ({ kind: 'stop' }));
    const all = [main, watch, stop];
    all.forEach((p) => p.catch(() => undefined)); // the losers are cancelled below
    let outcome: AgentOutcome<T>;
    try {
      outcome = await Promise.race(all);
    } finally {
      scope.cancel();
    }
    return outcome.kind === 'lost' && outcome.state === undefined ? withProviderState(ref, outcome) : outcome;
  });
}

/**
 * Resolves with the provider's state once it says the instance is gone (twice in a row). With
 * the batched watch, the installation's watcher describes every watched instance in one call
 * per provider and region and signals this workflow; before it, an activity per instance
 * polled (and held a worker slot for as long as the instance ran).
 */
async function providerWatch(state: WorkloadState, ref: InstanceRef): Promise<InstanceState> {
  if (!patched(PATCH_BATCHED_WATCH)) {
    const summary = `poll ${ref.provider} for the state of ${shortId(ref.id)}`;
    return (await watchInstance.executeWithOptions({ summary }, [{ ref }])).state;
  }
  // Already reported gone (during a restart's backoff, say): nothing to wait for.
  const known = state.providerStates.get(ref.id);
  if (known !== undefined) return known;
  // The reference only (an Instance carries its offer and details, which the watcher need not keep).
  const { provider, id, region, zone, launchedAt } = ref;
  const summary = `hand ${shortId(id)} on ${provider}/${region} to the watcher (batched describe)`;
  await watch.executeWithOptions({ summary }, [
    { ref: { provider, id, region, zone, launchedAt }, workflowId: state.workflowId },
  ]);
  await condition(() => state.providerStates.has(ref.id));
  return state.providerStates.get(ref.id)!;
}

/**
 * The agent went away before the provider's watch said why: ask the provider once, so that
 * a preemption is told (and blocked) as one even when the dying agent was quicker to report.
 */
async function withProviderState<T>(
  ref: InstanceRef,
  lost: AgentOutcome<T> & { kind: 'lost' },
): Promise<AgentOutcome<T>> {
  const summary = `ask ${ref.provider} what became of ${shortId(ref.id)}`;
  const state = await CancellationScope.nonCancellable(() =>
    describeInstance.executeWithOptions({ summary }, [ref]),
  ).catch(() => undefined);
  if (state === undefined || state === 'running' || state === 'pending') return lost;
  return { ...lost, reason: `${lost.reason}; provider reports the instance ${state}`, state };
}

/** Runs `fn` unless a stop arrives first, in which case `fn`'s activity is cancelled. */
export async function unlessStopped<T>(state: WorkloadState, fn: () => Promise<T>): Promise<T | 'stop'> {
  return CancellationScope.cancellable(async () => {
    const scope = CancellationScope.current();
    const main = fn();
    const stop = condition(() => state.stopped).then(() => 'stop' as const);
    main.catch(() => undefined);
    stop.catch(() => undefined);
    try {
      return await Promise.race([main, stop]);
    } finally {
      scope.cancel();
      // Settled before returning: a compensation that follows sees all the activity did.
      await main.then(
        () => undefined,
        () => undefined,
      );
    }
  });
}
