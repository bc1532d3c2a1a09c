/**
 * One workflow per workload: place, provision, start, supervise, recover, until stopped or
 * (for a job) finished. Deterministic sandboxed code: all I/O happens in activities.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  TimeoutFailure,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  defineSearchAttributeKey,
  SearchAttributeType,
  type SearchAttributeUpdatePair,
} from '@temporalio/common';
import type { ControlActivities } from '../activities';
import type { AgentActivities, HttpCheck, WorkloadExit } from '../agent/activities';
import { FailureType, instanceTaskQueue, SEARCH_ATTRIBUTES } from '../common/names';
import { blockCovers, blockLabel, offerLabel, type Block } from '../placement/rank';
import type { FailureScope, Instance, InstanceRef, InstanceState, Offer } from '../providers/types';
import {
  locationKey,
  locationOfKey,
  parseTarget,
  targetCovers,
  targetLabel,
  type Target,
} from '../placement/target';
import type { WorkloadSpec } from '../spec/workload-spec';
import {
  applyUpdate,
  migrateSignal,
  migrateUpdate,
  statusQuery,
  stopSignal,
  type ApplyRequest,
  type MigrateRequest,
  type MigrateResult,
} from './messages';
import type { Phase, TimelineEvent, WorkloadInput, WorkloadResult, WorkloadStatus } from './types';

const TIMELINE_LIMIT = 200;
/** Timeline events a run hands on when it continues as new. */
const CARRIED_TIMELINE = 50;
/** Patch: an instance whose provisioning is cancelled while it boots (a hedge loser) is ended. */
const PATCH_END_CANCELLED_BOOT = 'end-cancelled-boot';
/** Patch: cancelling the workflow also ends instances that are not current (booting, draining). */
const PATCH_END_ALL_ON_CANCEL = 'end-all-on-cancel';
/** Abandoned instances and attempts remembered for reconcile. */
const ABANDONED_LIMIT = 50;

const SA = {
  phase: defineSearchAttributeKey(SEARCH_ATTRIBUTES.phase.name, SearchAttributeType.KEYWORD),
  provider: defineSearchAttributeKey(SEARCH_ATTRIBUTES.provider.name, SearchAttributeType.KEYWORD),
  region: defineSearchAttributeKey(SEARCH_ATTRIBUTES.region.name, SearchAttributeType.KEYWORD),
  gpuType: defineSearchAttributeKey(SEARCH_ATTRIBUTES.gpuType.name, SearchAttributeType.KEYWORD),
  price: defineSearchAttributeKey(SEARCH_ATTRIBUTES.pricePerHour.name, SearchAttributeType.DOUBLE),
};

const { place } = proxyActivities<ControlActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumInterval: '20s', maximumAttempts: 10 },
});

// Polls the provider until the instance is up; bounded by the spec's startup grace.
const { waitReady } = proxyActivities<ControlActivities>({
  startToCloseTimeout: '1h',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', maximumInterval: '10s', nonRetryableErrorTypes: ['InstanceNotReady'] },
});

// Failures the workflow decides on are not retried by Temporal; transient ones are, a few times.
const { provision } = proxyActivities<ControlActivities>({
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
});

// Terminations and the compensation of a cut-short provision are retried for a few minutes;
// one that still fails is recorded as abandoned, and reconcile (which treats abandoned instances
// and attempts as unclaimed) ends it, so a provider outage never holds the workload back.
const { terminate, releaseAttempt } = proxyActivities<ControlActivities>({
  startToCloseTimeout: '2m',
  retry: { initialInterval: '1s', maximumInterval: '20s', maximumAttempts: 12 },
});

// After a loss the provider may well be the thing that is down: a few tries, then on.
const { terminate: terminateBriefly } = proxyActivities<ControlActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumInterval: '4s', maximumAttempts: 3 },
});

// Polls the provider beside the agent's heartbeats; resumed on another worker after a crash.
const { watchInstance } = proxyActivities<ControlActivities>({
  startToCloseTimeout: '3650d',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', maximumInterval: '10s' },
});

// Asks the provider what became of an instance whose agent went away (preempted? terminated?).
const { describeInstance } = proxyActivities<ControlActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '5s', maximumAttempts: 3 },
});

type AgentOutcome<T> =
  | { kind: 'done'; value: T }
  /** `state`: what the provider reported, when it was the provider that saw the loss. */
  | { kind: 'lost'; reason: string; state?: InstanceState }
  | { kind: 'stop' };

/** Why an agent activity failed, in words for the timeline. */
function agentFailureReason(err: unknown, heartbeatTimeoutMs: number, startupGraceMs: number): string {
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

function failureTypeOf(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

function failureScopeOf(err: unknown): FailureScope | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const d = cause.details?.[0] as { scope?: FailureScope } | undefined;
    return d?.scope;
  }
  return undefined;
}

function messageOf(err: unknown): string {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return (cause as Error).message;
}

/** What acquiring an instance produced: where, and the workload started on it. */
interface Acquired {
  instance: Instance;
  offer: Offer;
  attempt: number;
  port?: number;
}

/** A request to move the workload: a migration or a changed spec. */
interface Move {
  id: number;
  kind: 'migrate' | 'apply';
  target?: Target;
  /** The spec to run after the move (apply). */
  spec?: WorkloadSpec;
  specHash?: string;
  reason?: string;
  requestedAt: number;
}

type MoveResult = { ok: true; value: MigrateResult } | { ok: false; error: string };

/** What ended a supervision. */
type Supervised =
  | { kind: 'lost'; reason: string; state?: InstanceState }
  | { kind: 'exited'; exit: WorkloadExit }
  | { kind: 'unhealthy'; reason: string }
  | { kind: 'stop' }
  /** Supervision paused between slices so the run can continue as new. */
  | { kind: 'detached' };

const HOUR_MS = 3_600_000;

export async function workloadWorkflow(input: WorkloadInput): Promise<WorkloadResult> {
  let spec = input.spec;
  let specHash = input.specHash;
  const info = workflowInfo();
  const carried = input.carried;
  const s: WorkloadStatus = carried
    ? { ...carried.status, runs: (carried.status.runs ?? 0) + 1 }
    : {
        name: spec.name,
        kind: spec.kind,
        phase: 'PENDING',
        attempts: 0,
        restarts: 0,
        recoveries: 0,
        blocks: [],
        timeline: [],
      };
  let restartTimes: number[] = carried?.restartTimes ?? [];
  /** Port of the current instance's HTTP workload. */
  let currentPort: number | undefined = carried?.port;
  let stopReason: string | undefined;
  /** Invalid-request and auth failures: surfaced when no other offer is left. */
  const fatal: string[] = [];
  let fatalType: string | undefined;
  const stopped = () => stopReason !== undefined;
  let pending: Move | undefined;
  let moveSeq = 0;
  const moveResults = new Map<number, MoveResult>();
  /** Instances this run launched or is draining that are not current and not yet ended. */
  const live = new Map<string, InstanceRef>();
  const hbMs = () => spec.health.heartbeatTimeout;

  // ---- messages -------------------------------------------------------------------------

  setHandler(stopSignal, (arg) => {
    stopReason ??= arg?.reason ?? 'stop requested';
  });
  // Queries must not change state: filter a copy.
  setHandler(statusQuery, () => ({ ...s, blocks: s.blocks.filter((b) => b.until > Date.now()) }));

  /** Throws (an Error, which rejects the update) when the migration cannot be done; returns the target. */
  function validateMigrate(req: MigrateRequest): Target | undefined {
    if (stopped()) throw new Error(`${spec.name} is stopping`);
    if (pending) throw new Error(`a ${pending.kind} of ${spec.name} is already in progress`);
    if (s.phase !== 'RUNNING' && s.phase !== 'RECOVERING') {
      throw new Error(`${spec.name} is ${s.phase}; only a running or recovering workload can be migrated`);
    }
    const target = req.to === undefined || req.to === '' ? undefined : parseTarget(req.to);
    const here = s.current ? locationKey(s.current) : undefined;
    const known = s.lastPlacement?.locations ?? [];
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
    const reasons = Object.entries(s.lastPlacement?.reasonsByLocation ?? {})
      .filter(([k]) => target === undefined || targetCovers(target, locationOfKey(k)))
      .map(([, r]) => r);
    const why = reasons.length > 0 ? `: ${[...new Set(reasons)].slice(0, 3).join('; ')}` : '';
    throw new Error(`no offer at ${where} fits the spec of ${spec.name}${why}`);
  }

  function request(move: Omit<Move, 'id' | 'requestedAt'>): number {
    const id = ++moveSeq;
    pending = { ...move, id, requestedAt: Date.now() };
    s.moving = {
      kind: move.kind,
      to: move.target ? targetLabel(move.target) : 'the best offer',
      since: new Date().toISOString(),
    };
    return id;
  }

  async function resultOf(id: number): Promise<MigrateResult> {
    await condition(() => moveResults.has(id));
    const r = moveResults.get(id)!;
    moveResults.delete(id);
    if (!r.ok)
      throw ApplicationFailure.create({ type: 'MigrationFailed', message: r.error, nonRetryable: true });
    return r.value;
  }

  setHandler(
    migrateUpdate,
    async (req) => {
      const target = validateMigrate(req);
      return resultOf(request({ kind: 'migrate', target, reason: req.reason }));
    },
    { validator: (req) => void validateMigrate(req) },
  );

  setHandler(migrateSignal, (req) => {
    try {
      const target = validateMigrate(req);
      request({ kind: 'migrate', target, reason: req.reason });
    } catch (err) {
      event(
        'migrate-rejected',
        `migration to ${req.to ?? 'anywhere else'} rejected: ${(err as Error).message}`,
      );
    }
  });

  function validateApply(req: ApplyRequest) {
    if (req.spec.name !== spec.name) {
      throw new Error(`spec.name: expected ${spec.name} (the workload's name), got ${req.spec.name}`);
    }
    if (req.spec.kind !== spec.kind) {
      throw new Error(`spec.kind: a ${spec.kind} cannot become a ${req.spec.kind}; stop it and apply again`);
    }
    if (stopped()) throw new Error(`${spec.name} is stopping`);
    if (req.specHash !== specHash && pending) {
      throw new Error(`a ${pending.kind} of ${spec.name} is already in progress`);
    }
  }

  setHandler(
    applyUpdate,
    async (req) => {
      validateApply(req);
      if (req.specHash === specHash) {
        return {
          changed: false,
          message: `${spec.name} is unchanged`,
          location: s.current ? locationKey(s.current) : undefined,
          instanceId: s.current?.instanceId,
        };
      }
      const r = await resultOf(request({ kind: 'apply', spec: req.spec, specHash: req.specHash }));
      return { changed: true, message: `${spec.name} updated`, location: r.to, instanceId: r.instanceId };
    },
    { validator: validateApply },
  );

  // ---- bookkeeping ----------------------------------------------------------------------

  function event(type: TimelineEvent['type'], message: string, extra: Partial<TimelineEvent> = {}) {
    s.timeline.push({ at: new Date().toISOString(), type, message, ...extra });
    if (s.timeline.length > TIMELINE_LIMIT) s.timeline.splice(0, s.timeline.length - TIMELINE_LIMIT);
    log.info(message, { workload: spec.name, event: type, ...extra });
  }

  function publish() {
    if (!input.searchAttributes) return;
    const pairs: SearchAttributeUpdatePair[] = [{ key: SA.phase, value: s.phase }];
    const c = s.current;
    if (c) {
      pairs.push({ key: SA.provider, value: c.provider }, { key: SA.region, value: c.region });
      pairs.push({ key: SA.price, value: c.pricePerHour });
      if (c.gpuType) pairs.push({ key: SA.gpuType, value: c.gpuType });
    }
    upsertSearchAttributes(pairs);
  }

  function setPhase(phase: Phase) {
    if (s.phase === phase) return;
    s.phase = phase;
    publish();
  }

  function activeBlocks(): Block[] {
    const now = Date.now();
    s.blocks = s.blocks.filter((b) => b.until > now);
    return s.blocks;
  }

  function block(loc: Pick<Offer, 'provider' | 'region' | 'zone'>, scope: FailureScope, reason: string) {
    const b: Block = {
      provider: loc.provider,
      region: scope === 'provider' ? undefined : loc.region,
      zone: scope === 'zone' ? loc.zone : undefined,
      until: Date.now() + spec.recovery.cooldown,
      reason,
    };
    s.blocks = activeBlocks().filter((x) => blockLabel(x) !== blockLabel(b));
    s.blocks.push(b);
    event('blocked', `${blockLabel(b)} blocked for ${spec.recovery.cooldown / 1000}s after ${reason}`, {
      location: blockLabel(b),
    });
  }

  const refOf = (c: NonNullable<WorkloadStatus['current']>): InstanceRef => ({
    provider: c.provider,
    id: c.instanceId,
    region: c.region,
    zone: c.zone,
  });

  function placementOf(a: Acquired): NonNullable<WorkloadStatus['current']> {
    const { instance, offer } = a;
    return {
      provider: instance.provider,
      region: instance.region,
      zone: instance.zone,
      instanceId: instance.id,
      instanceType: offer.instanceType,
      gpuType: offer.gpuType,
      gpuCount: offer.gpuCount,
      pricePerHour: offer.pricePerHour,
      details: instance.details,
      since: new Date().toISOString(),
      address: instance.address,
      endpoint:
        a.port !== undefined && instance.address !== undefined ? `${instance.address}:${a.port}` : undefined,
    };
  }

  /** What could not be ended; reconcile ends it (see src/reconcile/decide.ts). */
  function abandon(kind: 'instances' | 'attempts', id: string | number, why: string) {
    const a = (s.abandoned ??= { instances: [], attempts: [] });
    if (kind === 'instances') a.instances = [...a.instances, String(id)].slice(-ABANDONED_LIMIT);
    else a.attempts = [...a.attempts, Number(id)].slice(-ABANDONED_LIMIT);
    event(
      'abandoned',
      `${kind === 'instances' ? `instance ${id}` : `attempt ${id}`} left to reconcile: ${why}`,
    );
  }

  /** Terminates an instance; one that cannot be terminated is left to reconcile, never waited on forever. */
  async function endInstance(ref: InstanceRef, why: string, brief = false): Promise<boolean> {
    try {
      await CancellationScope.nonCancellable(() => (brief ? terminateBriefly(ref) : terminate(ref)));
      live.delete(ref.id);
      return true;
    } catch (err) {
      if (isCancellation(err)) throw err;
      abandon('instances', ref.id, `terminate failed (${why}): ${messageOf(err)}`);
      live.delete(ref.id); // reconcile's now
      return false;
    }
  }

  async function terminateInstance(c: NonNullable<WorkloadStatus['current']>, why: string, brief = false) {
    if (!(await endInstance(refOf(c), why, brief))) return;
    event('terminated', `terminated ${c.instanceId} on ${c.provider}/${c.region} (${why})`, {
      instanceId: c.instanceId,
      location: `${c.provider}/${c.region}`,
    });
  }

  async function terminateCurrent(why: string, brief = false) {
    const c = s.current;
    if (!c) return;
    await terminateInstance(c, why, brief);
    s.current = undefined;
    currentPort = undefined;
  }

  // ---- agents ---------------------------------------------------------------------------

  function agentOf(instanceId: string, opts: { startup: boolean }) {
    return proxyActivities<AgentActivities>({
      taskQueue: instanceTaskQueue(instanceId),
      ...(opts.startup
        ? { scheduleToStartTimeout: spec.health.startupGrace, startToCloseTimeout: spec.health.startupGrace }
        : { scheduleToStartTimeout: hbMs(), startToCloseTimeout: '3650d', heartbeatTimeout: hbMs() }),
      retry: { maximumAttempts: 1 },
    });
  }

  const httpCheck = (of: WorkloadSpec = spec): HttpCheck | undefined =>
    of.health.http && {
      path: of.health.http.path,
      timeoutMs: of.health.http.timeout,
      intervalMs: of.health.http.interval,
      failureThreshold: of.health.http.failureThreshold,
    };

  /**
   * Runs an agent call while the provider's own view of the instance is polled beside it and
   * a stop request is watched for; whichever comes first wins and the others are cancelled.
   */
  async function raceAgent<T>(ref: InstanceRef, call: () => Promise<T>): Promise<AgentOutcome<T>> {
    return CancellationScope.cancellable(async () => {
      const scope = CancellationScope.current();
      const main = call().then(
        (value): AgentOutcome<T> => ({ kind: 'done', value }),
        (err): AgentOutcome<T> => {
          if (isCancellation(err) && scope.consideredCancelled) throw err;
          return { kind: 'lost', reason: agentFailureReason(err, hbMs(), spec.health.startupGrace) };
        },
      );
      const watch = watchInstance({ ref }).then(
        (r): AgentOutcome<T> => ({
          kind: 'lost',
          reason: `provider reports the instance ${r.state}`,
          state: r.state,
        }),
        (err) => (isCancellation(err) ? Promise.reject(err) : new Promise<AgentOutcome<T>>(() => undefined)),
      );
      const stop = condition(stopped).then((): AgentOutcome<T> => ({ kind: 'stop' }));
      const all = [main, watch, stop];
      all.forEach((p) => p.catch(() => undefined)); // the losers are cancelled below
      let outcome: AgentOutcome<T>;
      try {
        outcome = await Promise.race(all);
      } finally {
        scope.cancel();
      }
      return outcome.kind === 'lost' && outcome.state === undefined
        ? withProviderState(ref, outcome)
        : outcome;
    });
  }

  /**
   * The agent went away before the provider's watch said why: ask the provider once, so that
   * a preemption is told (and blocked) as one even when the dying agent was quicker to report.
   */
  async function withProviderState<T>(
    ref: InstanceRef,
    lost: AgentOutcome<T> & { kind: 'lost' },
  ): Promise<AgentOutcome<T>> {
    const state = await CancellationScope.nonCancellable(() => describeInstance(ref)).catch(() => undefined);
    if (state === undefined || state === 'running' || state === 'pending') return lost;
    return { ...lost, reason: `${lost.reason}; provider reports the instance ${state}`, state };
  }

  /** Runs `fn` unless a stop arrives first, in which case `fn`'s activity is cancelled. */
  async function unlessStopped<T>(fn: () => Promise<T>): Promise<T | 'stop'> {
    return CancellationScope.cancellable(async () => {
      const scope = CancellationScope.current();
      const main = fn();
      const stop = condition(stopped).then(() => 'stop' as const);
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

  // workflowInfo() afresh: the SDK replaces the info object on every activation.
  const continueAsNewDue = () =>
    workflowInfo().continueAsNewSuggested ||
    (input.continueAsNewAfterEvents !== undefined &&
      workflowInfo().historyLength >= input.continueAsNewAfterEvents);

  /**
   * Supervises the current instance in slices until something ends it. Runs in a scope of its
   * own, so a make-before-break move can provision elsewhere while it goes on; `cancel()` stops
   * the workload (the agent stops it when its supervision is cancelled).
   */
  function supervise(instance: InstanceRef): { ended: Promise<Supervised>; cancel(): Promise<void> } {
    const scope = new CancellationScope();
    const ended = scope.run(async (): Promise<Supervised> => {
      for (;;) {
        const r = await raceAgent(instance, () =>
          agentOf(instance.id, { startup: false }).superviseWorkload({
            heartbeatIntervalMs: Math.floor(hbMs() / 3),
            sliceMs: input.superviseSliceMs ?? HOUR_MS,
            http: httpCheck(),
          }),
        );
        if (r.kind !== 'done') return r;
        const v = r.value;
        if (v.outcome === 'exited') return { kind: 'exited', exit: v };
        if (v.outcome === 'unhealthy') return { kind: 'unhealthy', reason: v.reason };
        if (continueAsNewDue() && !pending) return { kind: 'detached' };
      }
    });
    ended.catch(() => undefined);
    return {
      ended,
      async cancel() {
        scope.cancel();
        await ended.then(
          () => undefined,
          () => undefined,
        );
      },
    };
  }

  // ---- acquiring an instance ------------------------------------------------------------

  interface AcquireOptions {
    /** Only offers at this target. */
    target?: Target;
    /** Never this location. */
    avoid?: InstanceRef;
    /** The spec to place (a changed spec while the old one runs). @default the current spec */
    spec?: WorkloadSpec;
    /** A move: give up (return 'none') instead of waiting when nothing fits or every offer fails. */
    once?: boolean;
    /** Leave phases alone (the current instance keeps running meanwhile). */
    quiet?: boolean;
  }

  type Attempted =
    | { kind: 'ready'; instance: Instance; offer: Offer; attempt: number }
    | { kind: 'failed' }
    | { kind: 'stop' };

  /** Provisions one offer and waits until the provider says it runs. */
  async function provisionOne(offer: Offer, o: AcquireOptions): Promise<Attempted> {
    const attempt = ++s.attempts;
    s.inflight = [...(s.inflight ?? []), attempt];
    try {
      const r = await provisionAttempt(attempt, offer, o);
      // A ready instance stays in flight until it becomes current or is ended.
      if (r.kind !== 'ready') settled(attempt);
      return r;
    } catch (err) {
      settled(attempt);
      throw err;
    }
  }

  /** The attempt is over: current, ended, or never launched anything (reconcile's claims). */
  function settled(attempt: number) {
    s.inflight = (s.inflight ?? []).filter((a) => a !== attempt);
  }

  async function provisionAttempt(attempt: number, offer: Offer, o: AcquireOptions): Promise<Attempted> {
    // The key covers everything that makes this request different (provider, zone, type).
    const idempotencyKey = [
      info.workflowId,
      info.firstExecutionRunId,
      attempt,
      offer.provider,
      offer.zone,
      offer.instanceType,
    ].join('/');
    const location = `${offer.provider}/${offer.region}`;
    if (!o.quiet) setPhase('PROVISIONING');
    event('provisioning', `attempt ${attempt}: provisioning ${offerLabel(offer)}`, { location });
    const labels = { workload: spec.name, workflowId: info.workflowId, attempt };
    const release = () =>
      CancellationScope.nonCancellable(() =>
        releaseAttempt({ provider: offer.provider, workflowId: info.workflowId, attempt }),
      ).then(
        () => undefined,
        (err: unknown) => {
          if (isCancellation(err)) throw err;
          abandon('attempts', attempt, `its release failed: ${messageOf(err)}`);
        },
      );
    let instance: Instance | 'stop';
    try {
      instance = await unlessStopped(() => provision({ offer, idempotencyKey, labels }));
    } catch (err) {
      if (isCancellation(err)) {
        // Cancelled mid-provision: whatever this attempt launched must not outlive the workflow.
        await release();
        throw err;
      }
      const type = failureTypeOf(err) ?? 'error';
      event('provision-failed', `attempt ${attempt} on ${location} failed: ${type}: ${messageOf(err)}`, {
        location,
      });
      // Whatever a failed provision left behind is found by its marks and ended.
      await release();
      if (type === FailureType.InvalidRequest || type === FailureType.Auth) {
        // Retrying will not help on this provider: block it whole and remember why.
        fatal.push(`${offer.provider}: ${messageOf(err)}`);
        fatalType ??= type;
        block(offer, 'provider', type);
        return { kind: 'failed' };
      }
      // An unclassified failure (a deadline passed, a crash) is a failure of that location.
      const scope: FailureScope = type === FailureType.Capacity ? 'zone' : (failureScopeOf(err) ?? 'zone');
      block(offer, scope, type);
      return { kind: 'failed' };
    }
    if (instance === 'stop') {
      await release();
      return { kind: 'stop' };
    }
    event('provisioned', `instance ${instance.id} up on ${location}`, { instanceId: instance.id, location });
    live.set(instance.id, {
      provider: instance.provider,
      id: instance.id,
      region: instance.region,
      zone: instance.zone,
    });
    let ready: AgentOutcome<unknown>;
    try {
      ready = await raceAgent(instance, () =>
        waitReady({ ref: instance, timeoutMs: spec.health.startupGrace }),
      );
    } catch (err) {
      // Cancelled while it booted (a hedged offer was ready first): it must not run on.
      if (isCancellation(err) && patched(PATCH_END_CANCELLED_BOOT)) {
        await endInstance(instance, 'its provisioning was cancelled', true);
      }
      throw err;
    }
    if (ready.kind === 'done') return { kind: 'ready', instance, offer, attempt };
    await endInstance(instance, 'it never became ready', true);
    if (ready.kind === 'stop') return { kind: 'stop' };
    event('lost', `instance ${instance.id} on ${location} never became ready: ${ready.reason}`, {
      instanceId: instance.id,
      location,
    });
    block(offer, 'zone', 'an instance that never became ready');
    return { kind: 'failed' };
  }

  /**
   * Provisions up to `hedge` offers at once and keeps the first that becomes ready; the others
   * are cancelled and whatever they launched is released.
   */
  async function provisionHedged(offers: Offer[], o: AcquireOptions): Promise<Attempted> {
    if (offers.length === 1) return provisionOne(offers[0]!, o);
    event('provisioning', `hedging: provisioning ${offers.length} offers at once, keeping the first ready`);
    const scopes = offers.map(() => new CancellationScope());
    const runs = offers.map((offer, i) =>
      scopes[i]!.run(() => provisionOne(offer, o)).then(
        (r) => ({ i, r }),
        (err: unknown) => {
          if (isCancellation(err)) return { i, r: { kind: 'failed' } as Attempted };
          throw err;
        },
      ),
    );
    const open = new Set(runs.map((_, i) => i));
    let winner: Attempted = { kind: 'failed' };
    while (open.size > 0) {
      const { i, r } = await Promise.race([...open].map((k) => runs[k]!));
      open.delete(i);
      if (r.kind === 'failed') continue;
      winner = r;
      break;
    }
    for (const k of open) scopes[k]!.cancel();
    const losers = await Promise.all([...open].map((k) => runs[k]!));
    for (const { r } of losers) {
      // A loser that got as far as ready before its cancellation landed is ended here.
      if (r.kind === 'ready') {
        await endInstance(r.instance, 'another hedged offer was ready first', true);
        settled(r.attempt);
        event('terminated', `terminated ${r.instance.id}: another hedged offer was ready first`, {
          instanceId: r.instance.id,
        });
      }
    }
    return winner;
  }

  /** Starts the workload on a ready instance (and, for HTTP workloads, waits until it answers). */
  async function startOn(
    ready: Attempted & { kind: 'ready' },
    what: WorkloadSpec,
  ): Promise<Acquired | 'stop' | 'failed'> {
    const { instance, offer, attempt } = ready;
    const location = `${offer.provider}/${offer.region}`;
    const http = httpCheck(what);
    const started = await raceAgent(instance, async () => {
      const agent = agentOf(instance.id, { startup: true });
      const w = await agent.startWorkload({
        workload: what.name,
        command: what.command,
        env: what.env,
        ...(what.health.http ? { http: { port: what.health.http.port } } : {}),
      });
      if (http) await agent.waitHealthy({ http, timeoutMs: what.health.startupGrace });
      return w;
    });
    if (started.kind === 'done') {
      event('running', `running on ${location} as ${instance.id} (pid ${started.value.pid})`, {
        instanceId: instance.id,
        location,
      });
      return { instance, offer, attempt, port: started.value.port };
    }
    await endInstance(instance, 'it never started the workload', true);
    settled(attempt);
    if (started.kind === 'stop') return 'stop';
    s.recoveries++;
    event('lost', `instance ${instance.id} on ${location} never started the workload: ${started.reason}`, {
      instanceId: instance.id,
      location,
    });
    block(offer, 'zone', 'a failed start');
    return 'failed';
  }

  /** Place and provision until an instance runs the workload, a stop arrives, or (once) nothing fits. */
  async function acquire(o: AcquireOptions = {}): Promise<Acquired | 'stop' | 'none' | 'continue'> {
    const placing = o.spec ?? spec;
    for (;;) {
      if (stopped()) return 'stop';
      if (!o.quiet) setPhase('PENDING');
      const placement = await place({
        spec: placing,
        blocks: activeBlocks(),
        target: o.target,
        avoid: o.avoid && { provider: o.avoid.provider, region: o.avoid.region, zone: o.avoid.zone },
      });
      s.lastPlacement = {
        candidates: placement.ranked.slice(0, 10),
        rejected: placement.rejected,
        providerErrors: placement.providerErrors,
        locations: placement.locations,
        reasonsByLocation: placement.reasonsByLocation,
      };
      for (const e of placement.providerErrors) event('no-offer', `provider did not answer: ${e}`);
      const usable = placement.ranked.filter((offer) => !activeBlocks().some((b) => blockCovers(b, offer)));
      if (usable.length === 0 && o.once) return 'none';
      if (usable.length === 0 && fatal.length > 0) {
        // Nothing else can run it and what failed will not fix itself: surface it.
        const message = `no provider can run ${spec.name}: ${fatal.join('; ')}`;
        setPhase('FAILED');
        event('failed', message);
        throw ApplicationFailure.create({
          type: fatalType ?? FailureType.InvalidRequest,
          message,
          nonRetryable: true,
        });
      }
      if (usable.length === 0) {
        const reasons = [...new Set(placement.rejected.map((r) => r.reason))].slice(0, 3);
        const next = activeBlocks().reduce((m, b) => Math.min(m, b.until), Infinity) - Date.now();
        const waitMs = Math.min(60_000, Math.max(1000, Number.isFinite(next) ? next : 30_000));
        event(
          'no-offer',
          `no offer fits (${placement.rejected.length} passed over: ${reasons.join('; ') || 'no offers at all'}); ` +
            `placing again in ${Math.round(waitMs / 1000)}s`,
        );
        await condition(() => stopped() || (pending !== undefined && !o.quiet), waitMs);
        if (pending && !o.quiet) return 'none';
        // Waiting for capacity can last for days: keep the history bounded meanwhile.
        if (!o.quiet && !stopped() && continueAsNewDue()) return 'continue';
        continue;
      }
      const [best] = usable;
      event(
        'placed',
        `chose ${offerLabel(best!)} at $${best!.pricePerHour}/h; ${usable.length - 1} other candidates, ` +
          `${placement.rejected.length} offers passed over`,
        { location: `${best!.provider}/${best!.region}` },
      );
      let remaining = usable;
      while (remaining.length > 0) {
        if (stopped()) return 'stop';
        // A failure earlier in this round may have blocked offers further down.
        remaining = remaining.filter((offer) => !activeBlocks().some((b) => blockCovers(b, offer)));
        const group = pickHedge(remaining, placing.placement.hedge);
        if (group.length === 0) break;
        remaining = remaining.filter((x) => !group.includes(x));
        const r = await provisionHedged(group, o);
        if (r.kind === 'stop') return 'stop';
        if (r.kind === 'failed') continue;
        if (!o.quiet) setPhase('STARTING');
        const got = await startOn(r, placing);
        if (got === 'stop') return 'stop';
        if (got === 'failed') break; // place again: the ranking may have changed
        return got;
      }
      if (o.once) return 'none';
    }
  }

  /** The first offer and, when hedging, the next best in other zones. */
  function pickHedge(offers: Offer[], k: number): Offer[] {
    const group: Offer[] = [];
    for (const o of offers) {
      if (group.length >= k) break;
      if (group.some((g) => locationKey(g) === locationKey(o))) continue;
      group.push(o);
    }
    return group;
  }

  function becomeCurrent(a: Acquired) {
    s.current = placementOf(a);
    live.delete(a.instance.id);
    settled(a.attempt);
    // Running again: what failed before (bad credentials, say) may since have been fixed.
    fatal.length = 0;
    fatalType = undefined;
    currentPort = a.port;
    setPhase('RUNNING');
    publish();
  }

  // ---- moves ----------------------------------------------------------------------------

  /**
   * Carries out a migration or a spec update. Services move make-before-break: the old
   * instance keeps running (and supervised) until the new one serves; jobs stop first.
   * Returns the supervision to go on with.
   */
  async function performMove(
    move: Move,
    sup: ReturnType<typeof supervise> | undefined,
  ): Promise<ReturnType<typeof supervise> | undefined> {
    const from = s.current ? locationKey(s.current) : '';
    const to = move.target
      ? targetLabel(move.target)
      : move.kind === 'apply'
        ? 'the best offer'
        : 'anywhere else';
    const what = move.kind === 'migrate' ? `migration to ${to}` : 'spec update';
    event('migrating', `${what} requested${move.reason ? ` (${move.reason})` : ''}`);
    const old = s.current;
    const makeBeforeBreak = spec.kind === 'service' && old !== undefined && sup !== undefined;
    if (!makeBeforeBreak && sup) {
      await sup.cancel();
      sup = undefined;
      await terminateCurrent(what);
    }
    const placingSpec = move.spec ?? spec;
    const acquired = await acquire({
      target: move.target,
      avoid: move.kind === 'migrate' && old ? refOf(old) : undefined,
      spec: placingSpec,
      once: true,
      quiet: makeBeforeBreak,
    });
    const finish = (r: MoveResult) => {
      moveResults.set(move.id, r);
      pending = undefined;
      s.moving = undefined;
    };
    if (acquired === 'stop' || acquired === 'none' || acquired === 'continue') {
      const error =
        acquired === 'stop'
          ? `${spec.name} was stopped during the ${what}`
          : `${what} failed: no offer ${move.target ? `at ${to} ` : ''}could be provisioned`;
      event('migrate-failed', error);
      finish({ ok: false, error });
      if (makeBeforeBreak) return sup; // the old instance runs on
      return undefined;
    }
    if (move.spec) {
      spec = move.spec;
      specHash = move.specHash;
      upsertMemo({ specHash });
      event('updated', 'spec updated');
    }
    // Until it is terminated after its drain, the old instance is ended with the workflow.
    if (makeBeforeBreak && old) live.set(old.instanceId, refOf(old));
    becomeCurrent(acquired);
    const now = `${acquired.instance.provider}/${acquired.instance.region}/${acquired.instance.zone}`;
    event('switched', `${what}: now on ${acquired.instance.id} at ${now}${from ? `, was ${from}` : ''}`, {
      instanceId: acquired.instance.id,
    });
    finish({
      ok: true,
      value: {
        from,
        to: locationKey(acquired.instance),
        instanceId: acquired.instance.id,
        tookMs: Date.now() - move.requestedAt,
      },
    });
    if (makeBeforeBreak && old) {
      // The old instance drains (serves requests already sent to it) before it goes.
      await condition(stopped, spec.recovery.drain);
      await sup!.cancel();
      await terminateInstance(old, `replaced by ${acquired.instance.id}`);
    }
    return supervise(refOf(s.current!));
  }

  async function finishStopped(): Promise<WorkloadResult> {
    setPhase('STOPPING');
    event('stopping', `stopping: ${stopReason}`);
    await terminateCurrent('stopped');
    setPhase('STOPPED');
    event('stopped', 'stopped');
    s.result = { phase: 'STOPPED', message: stopReason ?? 'stopped' };
    return s.result;
  }

  /** Counts a failure of the workload and waits out the backoff; throws when the restarts are used up. */
  async function restartAfter(how: string, exitCode: number | null | undefined, signal?: string | null) {
    const now = Date.now();
    const free =
      exitCode !== undefined && exitCode !== null && spec.recovery.restartExitCodes.includes(exitCode);
    if (!free) {
      s.restarts++;
      restartTimes.push(now);
    }
    const window = spec.recovery.restartWindow;
    if (window !== undefined) restartTimes = restartTimes.filter((t) => now - t <= window);
    const counted = restartTimes.length;
    if (counted > spec.recovery.maxRestarts) {
      setPhase('FAILED');
      const within = window !== undefined ? ` within ${window / 1000}s` : '';
      const message = `workload failed: ${how} after ${counted - 1} restarts${within} (max ${spec.recovery.maxRestarts})`;
      event('failed', message);
      throw ApplicationFailure.create({
        type: FailureType.WorkloadFailed,
        message,
        nonRetryable: true,
        details: [{ exitCode, signal, restarts: counted - 1 }],
      });
    }
    const { initial, max } = spec.recovery.backoff;
    const backoffMs = Math.min(max, initial * 2 ** Math.max(0, counted - 1));
    event(
      'restarting',
      free
        ? `exit code ${exitCode} always restarts (not counted); restarting in ${backoffMs / 1000}s`
        : `restart ${counted} of ${spec.recovery.maxRestarts} in ${backoffMs / 1000}s`,
    );
    // A stop or a migration cuts the wait short.
    await condition(() => stopped() || pending !== undefined, backoffMs);
  }

  /** Hands the state to a new run: the current instance (if any), blocks, counters, a trimmed timeline. */
  async function continueAsNewNow(): Promise<never> {
    await condition(allHandlersFinished);
    const trimmed = { ...s, timeline: s.timeline.slice(-CARRIED_TIMELINE) };
    return continueAsNew<typeof workloadWorkflow>({
      ...input,
      spec,
      specHash,
      carried: { status: trimmed, restartTimes, port: currentPort },
    });
  }

  // ---- the loop -------------------------------------------------------------------------

  publish();
  if (carried) {
    event(
      'continued',
      `continued as new (run ${s.runs}); ${s.current ? `supervising ${s.current.instanceId}` : 'placing'}`,
    );
  }
  let sup = s.current ? supervise(refOf(s.current)) : undefined;
  try {
    for (;;) {
      if (stopped()) {
        await sup?.cancel();
        return await finishStopped();
      }
      if (pending) {
        sup = await performMove(pending, sup);
        continue;
      }
      if (!sup) {
        // Between instances (after losses or restarts, which can go on for months): nothing runs
        // that a new run would have to pick up.
        if (continueAsNewDue()) return await continueAsNewNow();
        const got = await acquire();
        if (got === 'stop') continue;
        if (got === 'none') continue; // a move arrived while nothing fitted
        if (got === 'continue') return await continueAsNewNow();
        becomeCurrent(got);
        sup = supervise(refOf(s.current!));
        continue;
      }
      const running = sup;
      const ev = await Promise.race([
        running.ended,
        condition(() => stopped() || pending !== undefined).then(() => 'request' as const),
      ]);
      if (ev === 'request') continue;
      sup = undefined;
      const instance = s.current!;
      const location = `${instance.provider}/${instance.region}`;
      switch (ev.kind) {
        case 'stop':
          continue;
        case 'detached':
          // Between slices: nothing is cancelled, so the workload never notices.
          return await continueAsNewNow();
        case 'lost': {
          setPhase('RECOVERING');
          s.recoveries++;
          event('lost', `lost ${instance.instanceId} on ${location}: ${ev.reason}`, {
            instanceId: instance.instanceId,
            location,
          });
          await terminateCurrent('lost', true);
          block(instance, 'zone', ev.state === 'preempted' ? 'a preemption' : 'losing an instance');
          continue;
        }
        case 'unhealthy': {
          setPhase('RECOVERING');
          event('unhealthy', `workload on ${location} unhealthy: ${ev.reason}`, {
            instanceId: instance.instanceId,
            location,
          });
          await terminateCurrent('unhealthy');
          await restartAfter('unhealthy', undefined);
          continue;
        }
        case 'exited': {
          setPhase('RECOVERING');
          const exit = ev.exit;
          const how = exit.error ?? (exit.signal ? `signal ${exit.signal}` : `exit code ${exit.exitCode}`);
          event('exited', `workload exited on ${location}: ${how}`, {
            instanceId: instance.instanceId,
            location,
          });
          await terminateCurrent('workload exited');
          if (spec.kind === 'job' && exit.exitCode === 0) {
            setPhase('SUCCEEDED');
            event('succeeded', 'job succeeded');
            s.result = { phase: 'SUCCEEDED', exitCode: 0, message: 'job succeeded' };
            return s.result;
          }
          await restartAfter(how, exit.exitCode, exit.signal);
          continue;
        }
      }
    }
  } catch (err) {
    if (isCancellation(err)) {
      // Cancelled from outside (CLI, UI): end the instance before the workflow ends.
      await CancellationScope.nonCancellable(async () => {
        setPhase('STOPPING');
        await terminateCurrent('workflow cancelled');
        // And what is not current: an instance booting or starting, an old one draining.
        const others = [...live.values()];
        if (others.length > 0 && patched(PATCH_END_ALL_ON_CANCEL)) {
          for (const ref of others) {
            if (await endInstance(ref, 'workflow cancelled', true)) {
              event('terminated', `terminated ${ref.id} (workflow cancelled)`, { instanceId: ref.id });
            }
          }
        }
        setPhase('STOPPED');
        event('stopped', 'workflow cancelled');
      });
    }
    throw err;
  } finally {
    for (const [id] of moveResults) moveResults.delete(id);
    if (pending) moveResults.set(pending.id, { ok: false, error: `${spec.name} ended before the move` });
  }
}
