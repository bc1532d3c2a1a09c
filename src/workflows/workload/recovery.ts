/**
 * Ending instances and recovering from what ended a supervision: a lost instance is terminated
 * and its zone blocked, a failed workload is restarted after a backoff until the restarts are
 * used up, a finished job completes the workflow. Also the stop and cancellation paths.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
} from '@temporalio/workflow';
import { FailureType } from '../../common/names';
import type { InstanceRef } from '../../providers/types';
import type { CurrentPlacement, WorkloadResult } from '../types';
import { terminate, terminateBriefly } from './proxies';
import { messageOf } from './failures';
import { failIfTooManyLosses, recordLoss } from './limits';
import { refOf, type WorkloadState } from './state';
import type { Supervised } from './supervise';

/** Patch: cancelling the workflow also ends instances that are not current (booting, draining). */
const PATCH_END_ALL_ON_CANCEL = 'end-all-on-cancel';
/** Patch: a workflow that fails (an escaping activity failure, a limit) ends its instances first. */
const PATCH_END_ALL_ON_FAILURE = 'end-all-on-failure';

/** Terminates an instance; one that cannot be terminated is left to reconcile, never waited on forever. */
export async function endInstance(
  state: WorkloadState,
  ref: InstanceRef,
  why: string,
  brief = false,
): Promise<boolean> {
  try {
    await CancellationScope.nonCancellable(() => (brief ? terminateBriefly(ref) : terminate(ref)));
    state.live.delete(ref.id);
    return true;
  } catch (err) {
    if (isCancellation(err)) throw err;
    state.abandon('instances', ref.id, `terminate failed (${why}): ${messageOf(err)}`);
    state.live.delete(ref.id); // reconcile's now
    return false;
  }
}

/** Ends an instance the status knows, and tells the timeline. */
export async function terminateInstance(
  state: WorkloadState,
  c: CurrentPlacement,
  why: string,
  brief = false,
): Promise<void> {
  if (!(await endInstance(state, refOf(c), why, brief))) return;
  state.event('terminated', `terminated ${c.instanceId} on ${c.provider}/${c.region} (${why})`, {
    instanceId: c.instanceId,
    location: `${c.provider}/${c.region}`,
  });
}

/** Ends the current instance, if any; nothing is current afterwards. */
export async function terminateCurrent(state: WorkloadState, why: string, brief = false): Promise<void> {
  const c = state.status.current;
  if (!c) return;
  await terminateInstance(state, c, why, brief);
  state.status.current = undefined;
  state.currentPort = undefined;
}

/** A stop was requested: the instance is ended and the workflow completes. */
export async function finishStopped(state: WorkloadState): Promise<WorkloadResult> {
  state.setPhase('STOPPING');
  state.event('stopping', `stopping: ${state.stopReason}`);
  await terminateCurrent(state, 'stopped');
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
    await terminateCurrent(state, 'workflow cancelled');
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
  await condition(() => state.stopped || state.pending !== undefined, backoffMs);
}

/**
 * Acts on what ended a supervision (a loss, an unhealthy or exited workload). Returns the
 * workflow's result when a job has succeeded, else undefined: the loop goes on.
 */
export async function recover(
  state: WorkloadState,
  ev: Exclude<Supervised, { kind: 'stop' } | { kind: 'detached' }>,
): Promise<WorkloadResult | undefined> {
  const instance = state.status.current!;
  const location = `${instance.provider}/${instance.region}`;
  const where = { instanceId: instance.instanceId, location };
  state.setPhase('RECOVERING');
  switch (ev.kind) {
    case 'lost': {
      state.status.recoveries++;
      state.event('lost', `lost ${instance.instanceId} on ${location}: ${ev.reason}`, where);
      await terminateCurrent(state, 'lost', true);
      state.block(instance, 'zone', ev.state === 'preempted' ? 'a preemption' : 'losing an instance');
      recordLoss(state, `${instance.instanceId} on ${location}: ${ev.reason}`);
      failIfTooManyLosses(state);
      return undefined;
    }
    case 'unhealthy': {
      state.event('unhealthy', `workload on ${location} unhealthy: ${ev.reason}`, where);
      await terminateCurrent(state, 'unhealthy');
      await restartAfter(state, 'unhealthy', undefined);
      return undefined;
    }
    case 'exited': {
      const exit = ev.exit;
      const how = exit.error ?? (exit.signal ? `signal ${exit.signal}` : `exit code ${exit.exitCode}`);
      state.event('exited', `workload exited on ${location}: ${how}`, where);
      await terminateCurrent(state, 'workload exited');
      if (state.spec.kind === 'job' && exit.exitCode === 0) {
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
