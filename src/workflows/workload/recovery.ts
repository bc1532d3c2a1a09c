/**
 * Ending instances and recovering from what ended a supervision: a lost instance is terminated
 * and its zone blocked, a failed workload is restarted in place after a backoff until the
 * restarts are used up, a finished job completes the workflow. Also the stop and cancellation
 * paths, which stop the workload gracefully before the instance goes.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
} from '@temporalio/workflow';
import { FailureType } from '../../common/names';
import type { InstanceRef, InstanceState } from '../../providers/types';
import { recoveryLimits } from '../../spec/recovery-defaults';
import { durationText, shortId } from '../details';
import type { CurrentPlacement, WorkloadResult } from '../types';
import { agentStop, terminate, terminateBriefly } from './proxies';
import { messageOf } from './failures';
import { failIfTooManyLosses, recordLoss } from './limits';
import { refOf, type WorkloadState } from './state';
import type { Supervised } from './supervise';

/** Patch: cancelling the workflow also ends instances that are not current (booting, draining). */
const PATCH_END_ALL_ON_CANCEL = 'end-all-on-cancel';
/** Patch: a workflow that fails (an escaping activity failure, a limit) ends its instances first. */
const PATCH_END_ALL_ON_FAILURE = 'end-all-on-failure';
/** Patch: the agent stops the workload (SIGTERM, recovery.stopGrace, SIGKILL) before a terminate. */
const PATCH_GRACEFUL_STOP = 'graceful-stop';
/** Patch: a workload that exits or turns unhealthy restarts on the same instance. */
const PATCH_RESTART_IN_PLACE = 'restart-in-place';

/** How an instance is ended. */
export interface EndOptions {
  /** Few retries: after a loss the provider may be the thing that is down. */
  brief?: boolean;
  /** The agent stops the workload with the stop grace first (a stop, a move; not a loss). */
  graceful?: boolean;
}

/** Terminates an instance; one that cannot be terminated is left to reconcile, never waited on forever. */
export async function endInstance(
  state: WorkloadState,
  ref: InstanceRef,
  why: string,
  brief = false,
): Promise<boolean> {
  const summary = `terminate ${shortId(ref.id)} (${why})`;
  try {
    await CancellationScope.nonCancellable(() =>
      (brief ? terminateBriefly : terminate).executeWithOptions({ summary }, [ref]),
    );
    state.live.delete(ref.id);
    state.uncharge(ref.id);
    return true;
  } catch (err) {
    if (isCancellation(err)) throw err;
    state.abandon('instances', ref.id, `terminate failed (${why}): ${messageOf(err)}`);
    state.live.delete(ref.id); // reconcile's now
    state.uncharge(ref.id); // what reconcile's termination costs is not counted here
    return false;
  }
}

/**
 * Asks the agent to stop the workload (SIGTERM, recovery.stopGrace, SIGKILL) and waits for it,
 * so the workload can checkpoint or drain before its machine goes. An agent that does not
 * answer is gone already; the terminate that follows goes on without it.
 */
export async function stopGracefully(state: WorkloadState, ref: InstanceRef): Promise<void> {
  if (!patched(PATCH_GRACEFUL_STOP)) return;
  const { stopGrace } = recoveryLimits(state.spec.recovery);
  try {
    const summary = `stop the workload on ${shortId(ref.id)} (SIGTERM, grace ${durationText(stopGrace)})`;
    const r = await CancellationScope.nonCancellable(() =>
      agentStop(ref.id, stopGrace).executeWithOptions({ summary }, [{ graceMs: stopGrace }]),
    );
    if (r.stopped) {
      const how = r.exit?.signal ? `signal ${r.exit.signal}` : `exit code ${r.exit?.exitCode}`;
      state.event('workload-stopped', `workload on ${ref.id} stopped (${how}; grace ${stopGrace / 1000}s)`, {
        instanceId: ref.id,
      });
    }
  } catch (err) {
    if (isCancellation(err)) throw err;
    state.event('workload-stopped', `the agent on ${ref.id} did not stop the workload: ${messageOf(err)}`, {
      instanceId: ref.id,
    });
  }
}

/** Ends an instance the status knows, and tells the timeline. */
export async function terminateInstance(
  state: WorkloadState,
  c: CurrentPlacement,
  why: string,
  o: EndOptions = {},
): Promise<void> {
  if (o.graceful) await stopGracefully(state, refOf(c));
  if (!(await endInstance(state, refOf(c), why, o.brief))) return;
  state.event('terminated', `terminated ${c.instanceId} on ${c.provider}/${c.region} (${why})`, {
    instanceId: c.instanceId,
    location: `${c.provider}/${c.region}`,
  });
}

/** Ends the current instance, if any; nothing is current afterwards. */
export async function terminateCurrent(state: WorkloadState, why: string, o: EndOptions = {}): Promise<void> {
  const c = state.status.current;
  if (!c) return;
  await terminateInstance(state, c, why, o);
  state.status.current = undefined;
  state.currentPort = undefined;
}

/** A stop was requested: the instance is ended and the workflow completes. */
export async function finishStopped(state: WorkloadState): Promise<WorkloadResult> {
  state.setPhase('STOPPING');
  state.event('stopping', `stopping: ${state.stopReason}`);
  await terminateCurrent(state, 'stopped', { graceful: true });
  state.setPhase('STOPPED');
  state.event('stopped', 'stopped');
  state.status.result = { phase: 'STOPPED', message: state.stopReason ?? 'stopped' };
  return state.status.result;
}

/**
 * Cancelled from outside (CLI, UI): ends the current instance and what is not current (an
 * instance booting or starting, an old one draining) before the workflow ends.
 */
export async function endAllOnCancel(state: WorkloadState): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    state.setPhase('STOPPING');
    await terminateCurrent(state, 'workflow cancelled', { graceful: true });
    const others = [...state.live.values()];
    if (others.length > 0 && patched(PATCH_END_ALL_ON_CANCEL)) {
      for (const ref of others) {
        if (await endInstance(state, ref, 'workflow cancelled', true)) {
          state.event('terminated', `terminated ${ref.id} (workflow cancelled)`, { instanceId: ref.id });
        }
      }
    }
    state.setPhase('STOPPED');
    state.event('stopped', 'workflow cancelled');
  });
}

/**
 * The workflow is failing: whatever it still has (the current instance, one draining, one
 * booting) is ended before it closes, so a failure never leaves a machine billed.
 */
export async function endAllOnFailure(state: WorkloadState): Promise<void> {
  const current = state.status.current;
  const refs = [...(current ? [refOf(current)] : []), ...state.live.values()];
  if (refs.length === 0 || !patched(PATCH_END_ALL_ON_FAILURE)) return;
  await CancellationScope.nonCancellable(async () => {
    for (const ref of refs) {
      if (await endInstance(state, ref, 'the workflow failed')) {
        state.event('terminated', `terminated ${ref.id} (the workflow failed)`, { instanceId: ref.id });
      }
    }
    state.status.current = undefined;
    state.currentPort = undefined;
  });
}

/** Counts a failure of the workload and waits out the backoff; throws when the restarts are used up. */
export async function restartAfter(
  state: WorkloadState,
  how: string,
  exitCode: number | null | undefined,
  signal?: string | null,
): Promise<void> {
  const { recovery } = state.spec;
  const now = Date.now();
  const free = exitCode !== undefined && exitCode !== null && recovery.restartExitCodes.includes(exitCode);
  if (!free) {
    state.status.restarts++;
    state.restartTimes.push(now);
  }
  const window = recovery.restartWindow;
  if (window !== undefined) state.restartTimes = state.restartTimes.filter((t) => now - t <= window);
  const counted = state.restartTimes.length;
  if (counted > recovery.maxRestarts) {
    state.setPhase('FAILED');
    const within = window !== undefined ? ` within ${window / 1000}s` : '';
    const message = `workload failed: ${how} after ${counted - 1} restarts${within} (max ${recovery.maxRestarts})`;
    state.event('failed', message);
    throw ApplicationFailure.create({
      type: FailureType.WorkloadFailed,
      message,
      nonRetryable: true,
      details: [{ exitCode, signal, restarts: counted - 1 }],
    });
  }
  const { initial, max } = recovery.backoff;
  const backoffMs = Math.min(max, initial * 2 ** Math.max(0, counted - 1));
  state.event(
    'restarting',
    free
      ? `exit code ${exitCode} always restarts (not counted); restarting in ${backoffMs / 1000}s`
      : `restart ${counted} of ${recovery.maxRestarts} in ${backoffMs / 1000}s`,
  );
  // A stop or a migration cuts the wait short.
  const which = free
    ? `exit code ${exitCode} always restarts`
    : `restart ${counted} of ${recovery.maxRestarts}`;
  const summary = state.waitFor(`restart backoff ${durationText(backoffMs)} (${which})`);
  await condition(() => state.stopped || state.pending !== undefined, backoffMs, { summary });
}

/**
 * Acts on what ended a supervision (a loss, an unhealthy or exited workload). Returns the
 * workflow's result when a job has succeeded, else undefined: the loop goes on. A failed
 * workload keeps its instance (still current): the loop restarts it there after the backoff.
 */
export async function recover(
  state: WorkloadState,
  ev: Exclude<Supervised, { kind: 'stop' } | { kind: 'detached' } | { kind: 'notice' }>,
): Promise<WorkloadResult | undefined> {
  const instance = state.status.current!;
  const location = `${instance.provider}/${instance.region}`;
  const where = { instanceId: instance.instanceId, location };
  state.setPhase('RECOVERING');
  switch (ev.kind) {
    case 'lost': {
      await onLoss(state, ev.reason, ev.state);
      return undefined;
    }
    case 'unhealthy': {
      state.event('unhealthy', `workload on ${location} unhealthy: ${ev.reason}`, where);
      // The machine is fine: the agent restarts the workload on it (which stops the sick one).
      if (!patched(PATCH_RESTART_IN_PLACE)) await terminateCurrent(state, 'unhealthy');
      await restartAfter(state, 'unhealthy', undefined);
      return undefined;
    }
    case 'exited': {
      const exit = ev.exit;
      const how = exit.error ?? (exit.signal ? `signal ${exit.signal}` : `exit code ${exit.exitCode}`);
      state.event('exited', `workload exited on ${location}: ${how}`, where);
      const succeeded = state.spec.kind === 'job' && exit.exitCode === 0;
      if (succeeded || !patched(PATCH_RESTART_IN_PLACE)) await terminateCurrent(state, 'workload exited');
      if (succeeded) {
        state.setPhase('SUCCEEDED');
        state.event('succeeded', 'job succeeded');
        state.status.result = { phase: 'SUCCEEDED', exitCode: 0, message: 'job succeeded' };
        return state.status.result;
      }
      await restartAfter(state, how, exit.exitCode, exit.signal);
      return undefined;
    }
  }
}

/**
 * The current instance is lost (the provider says so, or its agent went silent): it is ended,
 * its zone blocked, the loss counted against recovery.maxRecoveries; nothing is current after.
 */
export async function onLoss(
  state: WorkloadState,
  reason: string,
  providerState?: InstanceState,
): Promise<void> {
  const instance = state.status.current!;
  const location = `${instance.provider}/${instance.region}`;
  state.status.recoveries++;
  state.event('lost', `lost ${instance.instanceId} on ${location}: ${reason}`, {
    instanceId: instance.instanceId,
    location,
  });
  await terminateCurrent(state, `lost: ${providerState ?? reason}`, { brief: true });
  state.block(instance, 'zone', providerState === 'preempted' ? 'a preemption' : 'losing an instance');
  recordLoss(state, `${instance.instanceId} on ${location}: ${reason}`);
  failIfTooManyLosses(state);
}
