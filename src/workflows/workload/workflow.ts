/**
 * One workflow per workload: place, provision, start, supervise, recover, until stopped or
 * (for a job) finished. This file wires the messages and runs the loop; each step lives in its
 * own module and works on the {@link WorkloadState}. Deterministic sandboxed code: all I/O
 * happens in activities.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  ContinueAsNew,
  isCancellation,
  setHandler,
} from '@temporalio/workflow';
import {
  applyUpdate,
  instanceStateSignal,
  migrateSignal,
  migrateUpdate,
  statusQuery,
  stopSignal,
} from '../messages';
import { formatUsd } from '../../common/cost';
import { clock } from '../details';
import type { CarriedState, WorkloadInput, WorkloadResult } from '../types';
import { acquire, becomeCurrent } from './acquire';
import {
  applySpec,
  failOpenMoves,
  performMove,
  requestMove,
  resultOf,
  validateApply,
  validateMigrate,
} from './moves';
import { endAllOnCancel, endAllOnFailure, finishStopped, recover } from './recovery';
import { actOnNotice } from './notices';
import { budgetSpent, finishOverBudget, msUntilBudget } from './budget';
import { restartInPlace } from './restart';
import { refOf, WorkloadState } from './state';
import { supervise, type Supervision } from './supervise';

/** Timeline events a run hands on when it continues as new. */
const CARRIED_TIMELINE = 50;

export async function workloadWorkflow(input: WorkloadInput): Promise<WorkloadResult> {
  const state = new WorkloadState(input);
  setHandlers(state);
  state.publish();
  if (input.carried) {
    const { status } = state;
    state.event('continued', `continued as new (run ${status.runs}); ${whatNext(state)}`);
  }
  try {
    return await run(state);
  } catch (err) {
    // Continuing as new is no failure: the instance runs on under the next run.
    if (err instanceof ContinueAsNew) throw err;
    if (isCancellation(err)) await endAllOnCancel(state);
    else await endAllOnFailure(state);
    throw err;
  } finally {
    failOpenMoves(state);
  }
}

/** What a run continued as new goes on with, in words. */
function whatNext(state: WorkloadState): string {
  const c = state.status.current;
  if (!c) return 'placing';
  return state.input.carried?.restartDue
    ? `restarting the workload on ${c.instanceId}`
    : `supervising ${c.instanceId}`;
}

function setHandlers(state: WorkloadState): void {
  setHandler(instanceStateSignal, ({ instanceId, state: st }) => {
    state.providerStates.set(instanceId, st);
  });
  setHandler(stopSignal, (arg) => {
    state.stopReason ??= arg?.reason ?? 'stop requested';
  });
  // Queries must not change state: answer a copy.
  setHandler(statusQuery, () => state.snapshot());
  setHandler(
    migrateUpdate,
    async (req) => {
      const target = validateMigrate(state, req);
      return resultOf(state, requestMove(state, { kind: 'migrate', target, reason: req.reason }));
    },
    { validator: (req) => void validateMigrate(state, req) },
  );
  setHandler(migrateSignal, (req) => {
    try {
      const target = validateMigrate(state, req);
      requestMove(state, { kind: 'migrate', target, reason: req.reason });
    } catch (err) {
      const message = `migration to ${req.to ?? 'anywhere else'} rejected: ${(err as Error).message}`;
      state.event('migrate-rejected', message);
    }
  });
  setHandler(applyUpdate, (req) => applySpec(state, req), {
    validator: (req) => validateApply(state, req),
  });
}

/**
 * The loop: stop, move, restart in place after a failed workload, acquire when nothing runs,
 * else wait for the supervision to end and recover.
 */
async function run(state: WorkloadState): Promise<WorkloadResult> {
  const restartDue = state.input.carried?.restartDue === true;
  let sup = state.status.current && !restartDue ? supervise(state, refOf(state.status.current)) : undefined;
  for (;;) {
    if (state.stopped) {
      await sup?.cancel();
      return await (state.budgetReason !== undefined ? finishOverBudget(state) : finishStopped(state));
    }
    if (state.pending) {
      sup = await performMove(state, state.pending, sup);
      continue;
    }
    if (!sup && state.status.current) {
      // Restarts in place can go on for months (exit codes that always restart): the history
      // stays bounded, and the next run restarts the workload.
      if (state.continueAsNewDue()) return await continueAsNewNow(state, { restartDue: true });
      // The workload failed on a machine that is fine: it restarts there (restart in place).
      sup = await restartInPlace(state);
      continue;
    }
    if (!sup) {
      // Between instances (after losses or restarts, which can go on for months): nothing runs
      // that a new run would have to pick up.
      if (state.continueAsNewDue()) return await continueAsNewNow(state);
      if (budgetSpent(state)) continue; // nothing more is launched once the budget is spent
      const got = await acquire(state);
      if (got === 'stop' || got === 'none') continue; // 'none': a move arrived while nothing fitted
      if (got === 'continue') return await continueAsNewNow(state);
      becomeCurrent(state, got);
      sup = supervise(state, refOf(state.status.current!));
      continue;
    }
    const ev = await endOrRequest(state, sup);
    if (ev === 'request') continue;
    if (ev.kind === 'notice') {
      sup = actOnNotice(state, ev.notice);
      continue;
    }
    sup = undefined;
    if (ev.kind === 'stop') continue;
    // Between slices: nothing is cancelled, so the workload never notices.
    if (ev.kind === 'detached') return await continueAsNewNow(state);
    const result = await recover(state, ev);
    if (result) return result;
  }
}

/**
 * Whichever comes first: the supervision ends, a stop or move is requested, or (with a budget)
 * the time the current rate reaches it.
 */
function endOrRequest(state: WorkloadState, sup: Supervision) {
  const requested = () => state.stopped || state.pending !== undefined;
  const budgetMs = msUntilBudget(state);
  return Promise.race([
    sup.ended,
    budgetMs === undefined
      ? condition(requested).then(() => 'request' as const)
      : condition(requested, budgetMs, {
          summary: `budget ${formatUsd(state.spec.budget!.maxTotal)} reached at this rate at ${clock(Date.now() + budgetMs)}`,
        }).then(() => {
          budgetSpent(state); // if reached, a stop for this reason
          return 'request' as const;
        }),
  ]);
}

/** The watcher's report on the current instance, if one came: only it matters to the next run. */
function carriedReports(state: WorkloadState): Pick<CarriedState, 'providerStates'> {
  const id = state.status.current?.instanceId;
  const st = id === undefined ? undefined : state.providerStates.get(id);
  return id !== undefined && st !== undefined ? { providerStates: { [id]: st } } : {};
}

/** Hands the state to a new run: the current instance (if any), blocks, counters, a trimmed timeline. */
async function continueAsNewNow(state: WorkloadState, o: { restartDue?: boolean } = {}): Promise<never> {
  await condition(allHandlersFinished);
  const trimmed = { ...state.status, timeline: state.status.timeline.slice(-CARRIED_TIMELINE) };
  return continueAsNew<typeof workloadWorkflow>({
    ...state.input,
    spec: state.spec,
    specHash: state.specHash,
    carried: {
      status: trimmed,
      restartTimes: state.restartTimes,
      port: state.currentPort,
      ...(o.restartDue ? { restartDue: true } : {}),
      ...carriedReports(state),
    },
  });
}
