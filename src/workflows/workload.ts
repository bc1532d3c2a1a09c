/**
 * One workflow per workload: place, provision, start, supervise, recover, until stopped or
 * (for a job) finished. Deterministic sandboxed code: all I/O happens in activities.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  defineSearchAttributeKey,
  SearchAttributeType,
  type SearchAttributeUpdatePair,
} from '@temporalio/common';
import type { ControlActivities } from '../activities';
import type { AgentActivities, WorkloadExit } from '../agent/activities';
import { FailureType, instanceTaskQueue, SEARCH_ATTRIBUTES } from '../common/names';
import { blockCovers, blockLabel, offerLabel, type Block } from '../placement/rank';
import type { FailureScope, Instance, InstanceRef, InstanceState, Offer } from '../providers/types';
import { statusQuery, stopSignal } from './messages';
import type { Phase, TimelineEvent, WorkloadInput, WorkloadResult, WorkloadStatus } from './types';

const TIMELINE_LIMIT = 200;

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

// A termination (or the compensation of a cut-short provision) that gives up leaks a billed
// machine: retry it for as long as it takes.
const { terminate, releaseAttempt } = proxyActivities<ControlActivities>({
  startToCloseTimeout: '2m',
  retry: { initialInterval: '1s', maximumInterval: '1m' },
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

export async function workloadWorkflow(input: WorkloadInput): Promise<WorkloadResult> {
  const { spec } = input;
  const info = workflowInfo();
  const hbMs = spec.health.heartbeatTimeout;
  const s: WorkloadStatus = {
    name: spec.name,
    kind: spec.kind,
    phase: 'PENDING',
    attempts: 0,
    restarts: 0,
    recoveries: 0,
    blocks: [],
    timeline: [],
  };
  let stopReason: string | undefined;
  /** Invalid-request and auth failures: surfaced when no other offer is left. */
  const fatal: string[] = [];
  let fatalType: string | undefined;
  const stopped = () => stopReason !== undefined;

  setHandler(stopSignal, (arg) => {
    stopReason ??= arg?.reason ?? 'stop requested';
  });
  // Queries must not change state: filter a copy.
  setHandler(statusQuery, () => ({ ...s, blocks: s.blocks.filter((b) => b.until > Date.now()) }));

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

  async function terminateCurrent(why: string) {
    const c = s.current;
    if (!c) return;
    await CancellationScope.nonCancellable(() => terminate(refOf(c)));
    event('terminated', `terminated ${c.instanceId} on ${c.provider}/${c.region} (${why})`, {
      instanceId: c.instanceId,
      location: `${c.provider}/${c.region}`,
    });
    s.current = undefined;
  }

  function agentOf(instanceId: string, opts: { startup: boolean }) {
    return proxyActivities<AgentActivities>({
      taskQueue: instanceTaskQueue(instanceId),
      ...(opts.startup
        ? { scheduleToStartTimeout: spec.health.startupGrace, startToCloseTimeout: '1m' }
        : { scheduleToStartTimeout: hbMs, startToCloseTimeout: '3650d', heartbeatTimeout: hbMs }),
      retry: { maximumAttempts: 1 },
    });
  }

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
          return { kind: 'lost', reason: agentFailureReason(err, hbMs, spec.health.startupGrace) };
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

  /** Place and provision until an instance runs the workload, or a stop arrives. */
  async function acquire(): Promise<Instance | 'stop'> {
    for (;;) {
      if (stopped()) return 'stop';
      setPhase('PENDING');
      const placement = await place({ spec, blocks: activeBlocks() });
      s.lastPlacement = {
        candidates: placement.ranked.slice(0, 10),
        rejected: placement.rejected.slice(0, 100),
        providerErrors: placement.providerErrors,
      };
      for (const e of placement.providerErrors) event('no-offer', `provider did not answer: ${e}`);
      if (placement.ranked.length === 0 && fatal.length > 0) {
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
      if (placement.ranked.length === 0) {
        const reasons = [...new Set(placement.rejected.map((r) => r.reason))].slice(0, 3);
        const next = activeBlocks().reduce((m, b) => Math.min(m, b.until), Infinity) - Date.now();
        const waitMs = Math.min(60_000, Math.max(1000, Number.isFinite(next) ? next : 30_000));
        event(
          'no-offer',
          `no offer fits (${placement.rejected.length} passed over: ${reasons.join('; ') || 'no offers at all'}); ` +
            `placing again in ${Math.round(waitMs / 1000)}s`,
        );
        await condition(stopped, waitMs);
        continue;
      }
      const [best] = placement.ranked;
      event(
        'placed',
        `chose ${offerLabel(best!)} at $${best!.pricePerHour}/h; ${placement.ranked.length - 1} other candidates, ` +
          `${placement.rejected.length} offers passed over`,
        { location: `${best!.provider}/${best!.region}` },
      );
      for (const offer of placement.ranked) {
        if (stopped()) return 'stop';
        // A failure earlier in this round may have blocked this offer's zone, region or provider.
        if (activeBlocks().some((b) => blockCovers(b, offer))) continue;
        const attempt = ++s.attempts;
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
        setPhase('PROVISIONING');
        event('provisioning', `attempt ${attempt}: provisioning ${offerLabel(offer)}`, { location });
        const labels = { workload: spec.name, workflowId: info.workflowId, attempt };
        let instance: Instance | 'stop';
        try {
          instance = await unlessStopped(() => provision({ offer, idempotencyKey, labels }));
        } catch (err) {
          if (isCancellation(err)) {
            // Cancelled mid-provision: whatever this attempt launched must not outlive the workflow.
            await CancellationScope.nonCancellable(() =>
              releaseAttempt({ provider: offer.provider, workflowId: info.workflowId, attempt }),
            );
            throw err;
          }
          const type = failureTypeOf(err) ?? 'error';
          event('provision-failed', `attempt ${attempt} on ${location} failed: ${type}: ${messageOf(err)}`, {
            location,
          });
          // Whatever a failed provision left behind is found by its marks and ended.
          await CancellationScope.nonCancellable(() =>
            releaseAttempt({ provider: offer.provider, workflowId: info.workflowId, attempt }),
          );
          if (type === FailureType.InvalidRequest || type === FailureType.Auth) {
            // Retrying will not help on this provider: block it whole and remember why.
            fatal.push(`${offer.provider}: ${messageOf(err)}`);
            fatalType ??= type;
            block(offer, 'provider', type);
            continue;
          }
          // An unclassified failure (a deadline passed, a crash) is a failure of that location.
          const scope: FailureScope =
            type === FailureType.Capacity ? 'zone' : (failureScopeOf(err) ?? 'zone');
          block(offer, scope, type);
          continue;
        }
        if (instance === 'stop') {
          await CancellationScope.nonCancellable(() =>
            releaseAttempt({ provider: offer.provider, workflowId: info.workflowId, attempt }),
          );
          return 'stop';
        }
        s.current = {
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
        };
        event('provisioned', `instance ${instance.id} up on ${location}`, {
          instanceId: instance.id,
          location,
        });
        setPhase('STARTING');
        const started = await raceAgent(instance, async () => {
          await waitReady({ ref: instance, timeoutMs: spec.health.startupGrace });
          return agentOf(instance.id, { startup: true }).startWorkload({
            workload: spec.name,
            command: spec.command,
            env: spec.env,
          });
        });
        if (started.kind === 'stop') return 'stop';
        if (started.kind === 'lost') {
          s.recoveries++;
          event(
            'lost',
            `instance ${instance.id} on ${location} never started the workload: ${started.reason}`,
            {
              instanceId: instance.id,
              location,
            },
          );
          await terminateCurrent('did not start');
          block(offer, 'zone', 'a failed start');
          break; // place again: the ranking may have changed
        }
        setPhase('RUNNING');
        event('running', `running on ${location} as ${instance.id} (pid ${started.value.pid})`, {
          instanceId: instance.id,
          location,
        });
        return instance;
      }
    }
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

  publish();
  try {
    for (;;) {
      if (stopped()) return await finishStopped();
      const instance = await acquire();
      if (instance === 'stop') continue;
      const location = `${instance.provider}/${instance.region}`;
      const outcome = await raceAgent<WorkloadExit>(instance, () =>
        agentOf(instance.id, { startup: false }).superviseWorkload({
          heartbeatIntervalMs: Math.floor(hbMs / 3),
        }),
      );
      if (outcome.kind === 'stop') continue;
      setPhase('RECOVERING');
      if (outcome.kind === 'lost') {
        s.recoveries++;
        event('lost', `lost ${instance.id} on ${location}: ${outcome.reason}`, {
          instanceId: instance.id,
          location,
        });
        await terminateCurrent('lost');
        block(instance, 'zone', outcome.state === 'preempted' ? 'a preemption' : 'losing an instance');
        continue;
      }
      const exit = outcome.value;
      const how = exit.error ?? (exit.signal ? `signal ${exit.signal}` : `exit code ${exit.exitCode}`);
      event('exited', `workload exited on ${location}: ${how}`, { instanceId: instance.id, location });
      await terminateCurrent('workload exited');
      if (spec.kind === 'job' && exit.exitCode === 0) {
        setPhase('SUCCEEDED');
        event('succeeded', 'job succeeded');
        s.result = { phase: 'SUCCEEDED', exitCode: 0, message: 'job succeeded' };
        return s.result;
      }
      s.restarts++;
      if (s.restarts > spec.recovery.maxRestarts) {
        setPhase('FAILED');
        const message = `workload failed: ${how} after ${s.restarts - 1} restarts (max ${spec.recovery.maxRestarts})`;
        event('failed', message);
        throw ApplicationFailure.create({
          type: FailureType.WorkloadFailed,
          message,
          nonRetryable: true,
          details: [{ exitCode: exit.exitCode, signal: exit.signal, restarts: s.restarts - 1 }],
        });
      }
      const backoffMs = Math.min(60_000, 1000 * 2 ** (s.restarts - 1));
      event('restarting', `restart ${s.restarts} of ${spec.recovery.maxRestarts} in ${backoffMs / 1000}s`);
      await condition(stopped, backoffMs);
    }
  } catch (err) {
    if (isCancellation(err)) {
      // Cancelled from outside (CLI, UI): end the instance before the workflow ends.
      await CancellationScope.nonCancellable(async () => {
        setPhase('STOPPING');
        await terminateCurrent('workflow cancelled');
        setPhase('STOPPED');
        event('stopped', 'workflow cancelled');
      });
    }
    throw err;
  }
}
