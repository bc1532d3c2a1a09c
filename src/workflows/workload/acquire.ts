/**
 * Acquiring an instance: place (rank the offers), provision the best (several at once when
 * hedging), wait until the provider says it runs, and start the workload on it. A failure
 * blocks its location and moves on to the next offer; nothing fitting waits and places again.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
} from '@temporalio/workflow';
import { FailureType } from '../../common/names';
import type { PlaceResult } from '../../activities';
import { blockCovers, blockLabel, offerLabel } from '../../placement/rank';
import { locationKey, targetLabel, type Target } from '../../placement/target';
import type { Instance, InstanceRef, Offer } from '../../providers/types';
import { recoveryLimits } from '../../spec/recovery-defaults';
import type { WorkloadSpec } from '../../spec/workload-spec';
import { clock, durationText, gpuText, shortId } from '../details';
import type { CurrentPlacement } from '../types';
import { agentOf, place } from './proxies';
import { provisionOne, type Attempted } from './provision';
import { httpCheck, raceAgent } from './race';
import { clearFailedStarts, failIfStartsExhausted, recordFailedStart } from './limits';
import { endInstance } from './recovery';
import type { WorkloadState } from './state';

/** Patch: the workflow's own cancellation during a hedge goes on up instead of reading as a failed offer. */
const PATCH_HEDGE_CANCELLATION = 'hedge-cancellation';
/** Patch: an auth or invalid-request error fails the workflow only when every provider in play has one. */
const PATCH_CREDENTIAL_BLIP = 'credential-blip';
/** Patch: hedge losers are released while the winner starts its workload, not before. */
const PATCH_RELEASE_LOSERS_BESIDE = 'release-losers-beside';

/** What acquiring an instance produced: where, and the workload started on it. */
export interface Acquired {
  instance: Instance;
  offer: Offer;
  attempt: number;
  port?: number;
}

export interface AcquireOptions {
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

/** Place and provision until an instance runs the workload, a stop arrives, or (once) nothing fits. */
export async function acquire(
  state: WorkloadState,
  o: AcquireOptions = {},
): Promise<Acquired | 'stop' | 'none' | 'continue'> {
  const placing = o.spec ?? state.spec;
  for (;;) {
    if (state.stopped) return 'stop';
    if (!o.quiet) state.setPhase('PENDING');
    const placement = await placeFor(state, placing, o);
    const usable = placement.ranked.filter(
      (offer) => !state.activeBlocks().some((b) => blockCovers(b, offer)),
    );
    if (usable.length === 0) {
      if (o.once) return 'none';
      const next = await waitForOffers(state, placement, o);
      if (next === 'again') continue;
      return next;
    }
    const [best] = usable;
    state.event(
      'placed',
      `chose ${offerLabel(best!)} at $${best!.pricePerHour}/h; ${usable.length - 1} other candidates, ` +
        `${placement.rejected.length} offers passed over`,
      { location: `${best!.provider}/${best!.region}` },
    );
    const got = await tryOffers(state, usable, placing, o);
    if (got !== 'none') return got;
    if (o.once) return 'none';
  }
}

/** Ranks the offers for the spec and records the placement (every candidate and every reason). */
async function placeFor(
  state: WorkloadState,
  placing: WorkloadSpec,
  o: AcquireOptions,
): Promise<PlaceResult> {
  const blocks = state.activeBlocks();
  const where = o.target
    ? ` at ${targetLabel(o.target)}`
    : o.avoid
      ? ` away from ${shortId(o.avoid.id)}`
      : '';
  const blocked = blocks.length ? `, ${blocks.length} location${blocks.length > 1 ? 's' : ''} blocked` : '';
  const summary = state.waitFor(`place: rank the offers for ${gpuText(placing)}${where}${blocked}`);
  const placement = await place.executeWithOptions({ summary }, [
    {
      spec: placing,
      blocks,
      target: o.target,
      avoid: o.avoid && { provider: o.avoid.provider, region: o.avoid.region, zone: o.avoid.zone },
    },
  ]);
  state.status.lastPlacement = {
    candidates: placement.ranked.slice(0, 10),
    rejected: placement.rejected,
    providerErrors: placement.providerErrors,
    locations: placement.locations,
    reasonsByLocation: placement.reasonsByLocation,
  };
  for (const e of placement.providerErrors) state.event('no-offer', `provider did not answer: ${e}`);
  return placement;
}

/**
 * Nothing usable: fails the workflow when what failed will not fix itself, else waits until
 * a block expires (or a stop or move arrives) and asks to place again.
 */
async function waitForOffers(
  state: WorkloadState,
  placement: PlaceResult,
  o: AcquireOptions,
): Promise<'again' | 'none' | 'continue'> {
  if (
    state.fatal.length > 0 &&
    (everyProviderFailedFatally(state, placement) || !patched(PATCH_CREDENTIAL_BLIP))
  ) {
    // Nothing else can run it and what failed will not fix itself: surface it.
    const message = `no provider can run ${state.spec.name}: ${state.fatal.join('; ')}`;
    state.setPhase('FAILED');
    state.event('failed', message);
    throw ApplicationFailure.create({
      type: state.fatalType ?? FailureType.InvalidRequest,
      message,
      nonRetryable: true,
    });
  }
  const reasons = [...new Set(placement.rejected.map((r) => r.reason))].slice(0, 3);
  const next = state.activeBlocks().reduce((m, b) => Math.min(m, b.until), Infinity) - Date.now();
  const waitMs = Math.min(60_000, Math.max(1000, Number.isFinite(next) ? next : 30_000));
  state.event(
    'no-offer',
    `no offer fits (${placement.rejected.length} passed over: ${reasons.join('; ') || 'no offers at all'}); ` +
      `placing again in ${Math.round(waitMs / 1000)}s`,
  );
  await condition(() => state.stopped || (state.pending !== undefined && !o.quiet), waitMs, {
    summary: state.waitFor(cooldownSummary(state, waitMs)),
  });
  if (state.pending && !o.quiet) return 'none';
  // Waiting for capacity can last for days: keep the history bounded meanwhile.
  if (!o.quiet && !state.stopped && state.continueAsNewDue()) return 'continue';
  return 'again';
}

/** "cooldown: no allowed location until 23:13:05 UTC (local/lab-a blocked: a preemption)". */
function cooldownSummary(state: WorkloadState, waitMs: number): string {
  const blocks = state.activeBlocks();
  if (blocks.length === 0) return `no offer fits: place again in ${durationText(waitMs)}`;
  const first = blocks.reduce((a, b) => (b.until < a.until ? b : a));
  const more = blocks.length > 1 ? ` and ${blocks.length - 1} more` : '';
  const why = `${blockLabel(first)} blocked: ${first.reason}${more}`;
  return `cooldown: no allowed location until ${clock(Date.now() + waitMs)} (${why})`;
}

/**
 * Do all the providers that could run the workload (a fitting offer, or one fitting but for a
 * block) have their latest provision failed fatally? One provider's credential blip is not the
 * end while another provider waits out a cooldown.
 */
function everyProviderFailedFatally(state: WorkloadState, placement: PlaceResult): boolean {
  const inPlay = new Set(placement.ranked.map((o) => o.provider));
  for (const [key, reason] of Object.entries(placement.reasonsByLocation)) {
    if (/ blocked until /.test(reason)) inPlay.add(key.split('/')[0]!);
  }
  return [...inPlay].every((p) => state.fatalProviders.has(p));
}

/** Provisions the usable offers best first (hedged groups) until one runs the workload. */
async function tryOffers(
  state: WorkloadState,
  usable: Offer[],
  placing: WorkloadSpec,
  o: AcquireOptions,
): Promise<Acquired | 'stop' | 'none'> {
  let remaining = usable;
  while (remaining.length > 0) {
    if (state.stopped) return 'stop';
    // A failure earlier in this round may have blocked offers further down.
    remaining = remaining.filter((offer) => !state.activeBlocks().some((b) => blockCovers(b, offer)));
    const group = pickHedge(remaining, placing.placement.hedge);
    if (group.length === 0) break;
    remaining = remaining.filter((x) => !group.includes(x));
    const r = await provisionHedged(state, group, o);
    if (r.kind === 'stop') return 'stop';
    if (r.kind === 'failed') {
      if (!o.quiet) failIfStartsExhausted(state);
      continue;
    }
    if (!o.quiet) state.setPhase('STARTING');
    let got: Awaited<ReturnType<typeof startOn>>;
    try {
      got = await startOn(state, r, placing, o);
    } finally {
      await r.losersEnded;
    }
    if (got === 'stop') return 'stop';
    if (got === 'failed') {
      if (!o.quiet) failIfStartsExhausted(state);
      break; // place again: the ranking may have changed
    }
    return got;
  }
  return 'none';
}

/** The first offer and, when hedging, the next best in other zones. */
export function pickHedge(offers: Offer[], k: number): Offer[] {
  const group: Offer[] = [];
  for (const o of offers) {
    if (group.length >= k) break;
    if (group.some((g) => locationKey(g) === locationKey(o))) continue;
    group.push(o);
  }
  return group;
}

/**
 * Provisions up to `hedge` offers at once and keeps the first that becomes ready; the others
 * are cancelled and whatever they launched is released.
 */
async function provisionHedged(state: WorkloadState, offers: Offer[], o: AcquireOptions): Promise<Attempted> {
  if (offers.length === 1) return provisionOne(state, offers[0]!, o);
  state.event(
    'provisioning',
    `hedging: provisioning ${offers.length} offers at once, keeping the first ready`,
  );
  const scopes = offers.map(() => new CancellationScope());
  const runs = offers.map((offer, i) =>
    scopes[i]!.run(() => provisionOne(state, offer, o)).then(
      (r): { i: number; r: Attempted; cancelled?: unknown } => ({ i, r }),
      (err: unknown) => {
        if (isCancellation(err)) return { i, r: { kind: 'failed' } as Attempted, cancelled: err };
        throw err;
      },
    ),
  );
  const open = new Set(runs.map((_, i) => i));
  let winner: Attempted = { kind: 'failed' };
  let workflowCancelled: unknown;
  while (open.size > 0) {
    const { i, r, cancelled } = await Promise.race([...open].map((k) => runs[k]!));
    open.delete(i);
    // A loser cancelled here is no failure; the workflow's own cancellation goes on up, once
    // every run has released what it launched.
    const byWorkflow = cancelled !== undefined && CancellationScope.current().consideredCancelled;
    if (byWorkflow && patched(PATCH_HEDGE_CANCELLATION)) {
      workflowCancelled = cancelled;
      break;
    }
    if (r.kind === 'failed') continue;
    winner = r;
    break;
  }
  for (const k of open) scopes[k]!.cancel();
  const losersEnded = endLosers(
    state,
    [...open].map((k) => runs[k]!),
  );
  if (workflowCancelled !== undefined) {
    await losersEnded;
    throw workflowCancelled;
  }
  // The winner's workload starts while the losers are released, not after.
  if (winner.kind === 'ready' && open.size > 0 && patched(PATCH_RELEASE_LOSERS_BESIDE)) {
    losersEnded.catch(() => undefined); // awaited by the caller once the start is done
    return { ...winner, losersEnded };
  }
  await losersEnded;
  return winner;
}

/** Waits for the cancelled hedge runs; a loser that got as far as ready before its cancellation landed is ended. */
async function endLosers(state: WorkloadState, runs: Promise<{ r: Attempted }>[]): Promise<void> {
  const losers = await Promise.all(runs);
  for (const { r } of losers) {
    if (r.kind === 'ready') {
      await endInstance(state, r.instance, 'another hedged offer was ready first', true);
      state.settled(r.attempt);
      state.event('terminated', `terminated ${r.instance.id}: another hedged offer was ready first`, {
        instanceId: r.instance.id,
      });
    }
  }
}

/** Starts the workload on a ready instance (and, for HTTP workloads, waits until it answers). */
async function startOn(
  state: WorkloadState,
  ready: Attempted & { kind: 'ready' },
  what: WorkloadSpec,
  o: AcquireOptions,
): Promise<Acquired | 'stop' | 'failed'> {
  const { instance, offer, attempt } = ready;
  const location = `${offer.provider}/${offer.region}`;
  const http = httpCheck(what);
  const started = await raceAgent(state, instance, async () => {
    const agent = agentOf(instance.id, { startup: true, startupGraceMs: state.spec.health.startupGrace });
    const id = shortId(instance.id);
    const w = await agent.startWorkload.executeWithOptions(
      { summary: state.waitFor(`start the workload on ${id} (${location})`) },
      [
        {
          workload: what.name,
          command: what.command,
          env: what.env,
          ...(what.health.http ? { http: { port: what.health.http.port } } : {}),
          // Kept by the agent for every stop, its own shutdown included.
          stopGraceMs: recoveryLimits(what.recovery).stopGrace,
        },
      ],
    );
    if (http) {
      const summary = state.waitFor(`wait until the workload on ${id} answers GET ${http.path}`);
      await agent.waitHealthy.executeWithOptions({ summary }, [
        { http, timeoutMs: what.health.startupGrace },
      ]);
    }
    return w;
  });
  const where = { instanceId: instance.id, location };
  if (started.kind === 'done') {
    state.event('running', `running on ${location} as ${instance.id} (pid ${started.value.pid})`, where);
    return { instance, offer, attempt, port: started.value.port };
  }
  await endInstance(state, instance, 'it never started the workload', true);
  state.settled(attempt);
  if (started.kind === 'stop') return 'stop';
  state.status.recoveries++;
  const why = `instance ${instance.id} on ${location} never started the workload: ${started.reason}`;
  state.event('lost', why, where);
  state.block(offer, 'zone', 'a failed start');
  if (!o.quiet) recordFailedStart(state, why);
  return 'failed';
}

/** Makes an acquired instance the current one: the workload runs there now. */
export function becomeCurrent(state: WorkloadState, a: Acquired): void {
  state.status.current = placementOf(a);
  state.live.delete(a.instance.id);
  state.settled(a.attempt);
  clearFailedStarts(state);
  // Running again: what failed before (bad credentials, say) may since have been fixed.
  state.fatal.length = 0;
  state.fatalType = undefined;
  state.fatalProviders.clear();
  state.currentPort = a.port;
  state.setPhase('RUNNING');
  state.publish();
}

function placementOf(a: Acquired): CurrentPlacement {
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
    ...(instance.launchedAt !== undefined ? { launchedAt: instance.launchedAt } : {}),
    address: instance.address,
    endpoint:
      a.port !== undefined && instance.address !== undefined ? `${instance.address}:${a.port}` : undefined,
  };
}
