/**
 * Moves: a migration (migrate update or signal) or a changed spec (apply update). Handlers
 * validate and queue a move; the loop carries it out with {@link performMove}. Services move
 * make-before-break: the old instance runs (and is supervised) until the new one serves.
 */
import { ApplicationFailure, condition, upsertMemo } from '@temporalio/workflow';
import { FailureType } from '../../common/names';
import {
  locationKey,
  locationOfKey,
  parseTarget,
  targetCovers,
  targetLabel,
  type Target,
} from '../../placement/target';
import { durationText, shortId } from '../details';
import type { ApplyRequest, ApplyResult, MigrateRequest, MigrateResult } from '../messages';
import { acquire, becomeCurrent } from './acquire';
import { terminateCurrent, terminateInstance } from './recovery';
import { refOf, type Move, type MoveResult, type WorkloadState } from './state';
import { supervise, type Supervision } from './supervise';

/** Throws (an Error, which rejects the update) when the migration cannot be done; returns the target. */
export function validateMigrate(state: WorkloadState, req: MigrateRequest): Target | undefined {
  const { spec, status } = state;
  if (state.stopped) throw new Error(`${spec.name} is stopping`);
  if (state.pending) throw new Error(`a ${state.pending.kind} of ${spec.name} is already in progress`);
  if (status.phase !== 'RUNNING' && status.phase !== 'RECOVERING') {
    throw new Error(`${spec.name} is ${status.phase}; only a running or recovering workload can be migrated`);
  }
  const target = req.to === undefined || req.to === '' ? undefined : parseTarget(req.to);
  const here = status.current ? locationKey(status.current) : undefined;
  const known = status.lastPlacement?.locations ?? [];
  const options = known.filter(
    (k) => k !== here && (target === undefined || targetCovers(target, locationOfKey(k))),
  );
  if (options.length > 0) return target;
  const where = target ? targetLabel(target) : 'anywhere else';
  if (here && target && targetCovers(target, locationOfKey(here)) && known.includes(here)) {
    throw new Error(
      `${spec.name} already runs at ${here.replace(/\/$/, '')}; no other offer fits at ${where}`,
    );
  }
  const reasons = Object.entries(status.lastPlacement?.reasonsByLocation ?? {})
    .filter(([k]) => target === undefined || targetCovers(target, locationOfKey(k)))
    .map(([, r]) => r);
  const why = reasons.length > 0 ? `: ${[...new Set(reasons)].slice(0, 3).join('; ')}` : '';
  throw new Error(`no offer at ${where} fits the spec of ${spec.name}${why}`);
}

/** Throws when the spec cannot replace the running one (another name or kind, a stop, a move under way). */
export function validateApply(state: WorkloadState, req: ApplyRequest): void {
  const { spec } = state;
  if (req.spec.name !== spec.name) {
    throw new Error(`spec.name: expected ${spec.name} (the workload's name), got ${req.spec.name}`);
  }
  if (req.spec.kind !== spec.kind) {
    throw new Error(`spec.kind: a ${spec.kind} cannot become a ${req.spec.kind}; stop it and apply again`);
  }
  if (state.stopped) throw new Error(`${spec.name} is stopping`);
  if (req.specHash !== state.specHash && state.pending) {
    throw new Error(`a ${state.pending.kind} of ${spec.name} is already in progress`);
  }
}

/** Queues a move for the loop; returns its id. */
export function requestMove(state: WorkloadState, move: Omit<Move, 'id' | 'requestedAt'>): number {
  const id = ++state.moveSeq;
  state.pending = { ...move, id, requestedAt: Date.now() };
  state.status.moving = {
    kind: move.kind,
    to: move.target ? targetLabel(move.target) : 'the best offer',
    since: new Date().toISOString(),
  };
  return id;
}

/** Waits for the move's outcome; a failed move fails the update that asked for it. */
export async function resultOf(state: WorkloadState, id: number): Promise<MigrateResult> {
  await condition(() => state.moveResults.has(id));
  const r = state.moveResults.get(id)!;
  state.moveResults.delete(id);
  if (!r.ok)
    throw ApplicationFailure.create({
      type: FailureType.MigrationFailed,
      message: r.error,
      nonRetryable: true,
    });
  return r.value;
}

/** The apply update: unchanged is a no-op; a change is a move to the best offer for the new spec. */
export async function applySpec(state: WorkloadState, req: ApplyRequest): Promise<ApplyResult> {
  validateApply(state, req);
  const { spec, status } = state;
  if (req.specHash === state.specHash) {
    return {
      changed: false,
      message: `${spec.name} is unchanged`,
      location: status.current ? locationKey(status.current) : undefined,
      instanceId: status.current?.instanceId,
    };
  }
  const r = await resultOf(
    state,
    requestMove(state, { kind: 'apply', spec: req.spec, specHash: req.specHash }),
  );
  return { changed: true, message: `${spec.name} updated`, location: r.to, instanceId: r.instanceId };
}

/** Fails every move still waiting when the workflow ends, so no update waits forever. */
export function failOpenMoves(state: WorkloadState): void {
  for (const [id] of state.moveResults) state.moveResults.delete(id);
  if (state.pending) {
    state.moveResults.set(state.pending.id, { ok: false, error: `${state.spec.name} ended before the move` });
  }
}

function finishMove(state: WorkloadState, move: Move, r: MoveResult): void {
  state.moveResults.set(move.id, r);
  state.pending = undefined;
  state.status.moving = undefined;
}

/**
 * Carries out a migration or a spec update. Services move make-before-break: the old
 * instance keeps running (and supervised) until the new one serves; jobs stop first.
 * Returns the supervision to go on with.
 */
export async function performMove(
  state: WorkloadState,
  move: Move,
  sup: Supervision | undefined,
): Promise<Supervision | undefined> {
  const from = state.status.current ? locationKey(state.status.current) : '';
  const to = move.target
    ? targetLabel(move.target)
    : move.kind === 'apply'
      ? 'the best offer'
      : 'anywhere else';
  const what = move.kind === 'migrate' ? `migration to ${to}` : 'spec update';
  state.event('migrating', `${what} requested${move.reason ? ` (${move.reason})` : ''}`);
  const old = state.status.current;
  const makeBeforeBreak = state.spec.kind === 'service' && old !== undefined && sup !== undefined;
  // The old instance goes first; also one whose workload waits for a restart in place (no supervision).
  if (!makeBeforeBreak && (sup || old)) {
    await sup?.cancel();
    sup = undefined;
    await terminateCurrent(state, what, { graceful: true });
  }
  const acquired = await acquire(state, {
    target: move.target,
    avoid: move.kind === 'migrate' && old ? refOf(old) : undefined,
    spec: move.spec ?? state.spec,
    once: true,
    quiet: makeBeforeBreak,
  });
  if (acquired === 'stop' || acquired === 'none' || acquired === 'continue') {
    const error =
      acquired === 'stop'
        ? `${state.spec.name} was stopped during the ${what}`
        : `${what} failed: no offer ${move.target ? `at ${to} ` : ''}could be provisioned`;
    state.event('migrate-failed', error);
    finishMove(state, move, { ok: false, error });
    return makeBeforeBreak ? sup : undefined; // make-before-break: the old instance runs on
  }
  if (move.spec) {
    state.spec = move.spec;
    state.specHash = move.specHash;
    upsertMemo({ specHash: state.specHash });
    state.event('updated', 'spec updated');
  }
  // Until it is terminated after its drain, the old instance is ended with the workflow.
  if (makeBeforeBreak && old) state.live.set(old.instanceId, refOf(old));
  becomeCurrent(state, acquired);
  const { instance } = acquired;
  const now = `${instance.provider}/${instance.region}/${instance.zone}`;
  state.event('switched', `${what}: now on ${instance.id} at ${now}${from ? `, was ${from}` : ''}`, {
    instanceId: instance.id,
  });
  const tookMs = Date.now() - move.requestedAt;
  finishMove(state, move, {
    ok: true,
    value: { from, to: locationKey(instance), instanceId: instance.id, tookMs },
  });
  if (makeBeforeBreak && old) {
    // The old instance drains (serves requests already sent to it) before it goes.
    const { drain } = state.spec.recovery;
    const summary = state.waitFor(`drain old instance ${shortId(old.instanceId)} ${durationText(drain)}`);
    await condition(() => state.stopped, drain, { summary });
    await sup!.cancel();
    await terminateInstance(state, old, `replaced by ${instance.id}`, { graceful: true });
  }
  return supervise(state, refOf(state.status.current!));
}
