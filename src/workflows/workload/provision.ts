/**
 * One provision attempt: an idempotent create (the key covers everything that makes the
 * request different), compensated by releasing whatever the attempt launched when it fails or
 * is cut short, then a wait until the provider says the instance runs.
 */
import {
  CancellationScope,
  CancelledFailure,
  condition,
  isCancellation,
  patched,
} from '@temporalio/workflow';
import { formatUsd } from '../../common/cost';
import { FailureType } from '../../common/names';
import { offerLabel } from '../../placement/rank';
import type { FailureScope, Instance, Offer } from '../../providers/types';
import type { ProvisionInput } from '../../activities';
import { durationText, shortId } from '../details';
import { provision, provisionToTheEnd, releaseAttempt, waitReady } from './proxies';
import { failureScopeOf, failureTypeOf, messageOf } from './failures';
import { raceAgent, unlessStopped, type AgentOutcome } from './race';
import { recordFailedStart } from './limits';
import { endInstance } from './recovery';
import type { WorkloadState } from './state';

/** Patch: an instance whose provisioning is cancelled while it boots (a hedge loser) is ended. */
const PATCH_END_CANCELLED_BOOT = 'end-cancelled-boot';
/**
 * Patch: a cancelled provision (a stop, a hedge loser, the workflow's cancellation) is waited
 * for to the end; what it still returned is terminated by its id; it is told as a cancellation,
 * never as a failed location.
 */
const PATCH_PROVISION_TO_THE_END = 'provision-to-the-end';

export type Attempted =
  | {
      kind: 'ready';
      instance: Instance;
      offer: Offer;
      attempt: number;
      /** Hedge losers still being released; awaited once the workload has started. */
      losersEnded?: Promise<void>;
    }
  | { kind: 'failed' }
  | { kind: 'stop' };

/** Provisions one offer and waits until the provider says it runs. */
export async function provisionOne(
  state: WorkloadState,
  offer: Offer,
  o: { quiet?: boolean },
): Promise<Attempted> {
  const attempt = state.beginAttempt();
  try {
    const r = await provisionAttempt(state, attempt, offer, o);
    // A ready instance stays in flight until it becomes current or is ended.
    if (r.kind !== 'ready') state.settled(attempt);
    return r;
  } catch (err) {
    state.settled(attempt);
    throw err;
  }
}

async function provisionAttempt(
  state: WorkloadState,
  attempt: number,
  offer: Offer,
  o: { quiet?: boolean },
): Promise<Attempted> {
  // The key covers everything that makes this request different (provider, zone, type).
  const idempotencyKey = [
    state.workflowId,
    state.firstExecutionRunId,
    attempt,
    offer.provider,
    offer.zone,
    offer.instanceType,
  ].join('/');
  const location = `${offer.provider}/${offer.region}`;
  if (!o.quiet) state.setPhase('PROVISIONING');
  state.event('provisioning', `attempt ${attempt}: provisioning ${offerLabel(offer)}`, { location });
  const labels = { workload: state.spec.name, workflowId: state.workflowId, attempt };
  if (patched(PATCH_PROVISION_TO_THE_END)) {
    return provisionToTheEndOf(state, { offer, idempotencyKey, labels }, attempt, o);
  }
  const release = () => releaseOf(state, offer, attempt);
  const summary = provisionSummary(state, attempt, offer);
  let instance: Instance | 'stop';
  try {
    instance = await unlessStopped(state, () =>
      provision.executeWithOptions({ summary }, [{ offer, idempotencyKey, labels }]),
    );
  } catch (err) {
    if (isCancellation(err)) {
      // Cancelled mid-provision: whatever this attempt launched must not outlive the workflow.
      await release();
      throw err;
    }
    return provisionFailed(state, offer, attempt, err);
  }
  if (instance === 'stop') {
    await release();
    return { kind: 'stop' };
  }
  return bootOf(state, instance, offer, attempt, o);
}

/** "provision attempt 2: aws/us-east-1/use1-az1 p4d.24xlarge at $21.96/h". */
function provisionSummary(state: WorkloadState, attempt: number, offer: Offer): string {
  return state.waitFor(
    `provision attempt ${attempt}: ${offerLabel(offer)} at ${formatUsd(offer.pricePerHour)}/h`,
  );
}

/** How a provision ended, and whether a stop or a cancellation came first. */
interface ProvisionOutcome {
  interrupted: boolean;
  instance?: Instance;
  error?: unknown;
}

/**
 * Provisions unless a stop or a cancellation comes first; either way the activity is waited
 * for until it has finished (WAIT_CANCELLATION_COMPLETED), so nothing it launched is missed.
 */
function provisionUnlessInterrupted(
  state: WorkloadState,
  request: ProvisionInput,
  attempt: number,
): Promise<ProvisionOutcome> {
  const summary = provisionSummary(state, attempt, request.offer);
  return CancellationScope.cancellable(async () => {
    const scope = CancellationScope.current();
    const main = provisionToTheEnd.executeWithOptions({ summary }, [request]).then(
      (instance): Omit<ProvisionOutcome, 'interrupted'> => ({ instance }),
      (error: unknown): Omit<ProvisionOutcome, 'interrupted'> => ({ error }),
    );
    // A cancellation of the scope (a hedge loser, the workflow) rejects the condition: interrupted.
    const interrupt = condition(() => state.stopped).then(
      () => 'interrupted' as const,
      () => 'interrupted' as const,
    );
    const first = await Promise.race([main, interrupt]);
    // Requests the activity's cancellation if it runs on; ends the condition either way.
    scope.cancel();
    return { interrupted: first === 'interrupted', ...(await main) };
  });
}

/** The attempt under the provision-to-the-end patch: see {@link PATCH_PROVISION_TO_THE_END}. */
async function provisionToTheEndOf(
  state: WorkloadState,
  request: ProvisionInput,
  attempt: number,
  o: { quiet?: boolean },
): Promise<Attempted> {
  const { offer } = request;
  const outer = CancellationScope.current();
  const r = await provisionUnlessInterrupted(state, request, attempt);
  const interrupted = r.interrupted || (r.error !== undefined && isCancellation(r.error));
  if (!interrupted) {
    if (r.error !== undefined) return provisionFailed(state, offer, attempt, r.error);
    return bootOf(state, r.instance!, offer, attempt, o);
  }
  // Not wanted any more: what it launched must not outlive the attempt, found by id and by marks.
  const why = outer.consideredCancelled
    ? 'its provisioning was cancelled'
    : 'a stop came during its provisioning';
  if (r.instance) await endInstance(state, r.instance, why, true);
  await releaseOf(state, offer, attempt);
  if (outer.consideredCancelled) throw new CancelledFailure('provisioning cancelled');
  return { kind: 'stop' };
}

/** Compensation: ends whatever the attempt launched, found by its marks; else leaves it to reconcile. */
function releaseOf(state: WorkloadState, offer: Offer, attempt: number): Promise<void> {
  const summary = `release what attempt ${attempt} launched on ${offer.provider}`;
  return CancellationScope.nonCancellable(() =>
    releaseAttempt.executeWithOptions({ summary }, [
      { provider: offer.provider, workflowId: state.workflowId, attempt },
    ]),
  ).then(
    () => undefined,
    (err: unknown) => {
      if (isCancellation(err)) throw err;
      state.abandon('attempts', attempt, `its release failed: ${messageOf(err)}`);
    },
  );
}

/** A provision failed: its remains are released and its location blocked as far as the failure reaches. */
async function provisionFailed(
  state: WorkloadState,
  offer: Offer,
  attempt: number,
  err: unknown,
): Promise<Attempted> {
  const location = `${offer.provider}/${offer.region}`;
  const type = failureTypeOf(err) ?? 'error';
  state.event('provision-failed', `attempt ${attempt} on ${location} failed: ${type}: ${messageOf(err)}`, {
    location,
  });
  // Whatever a failed provision left behind is found by its marks and ended.
  await releaseOf(state, offer, attempt);
  if (type === FailureType.InvalidRequest || type === FailureType.Auth) {
    // Retrying will not help on this provider: block it whole and remember why.
    state.fatal.push(`${offer.provider}: ${messageOf(err)}`);
    state.fatalType ??= type;
    state.fatalProviders.add(offer.provider);
    state.block(offer, 'provider', type);
    return { kind: 'failed' };
  }
  state.fatalProviders.delete(offer.provider); // it answered as a provider does: not fatal
  // An unclassified failure (a deadline passed, a crash) is a failure of that location.
  const scope: FailureScope = type === FailureType.Capacity ? 'zone' : (failureScopeOf(err) ?? 'zone');
  state.block(offer, scope, type);
  return { kind: 'failed' };
}

/** Waits until a provisioned instance is up (the startup grace bounds it); one that never is, is ended. */
async function bootOf(
  state: WorkloadState,
  instance: Instance,
  offer: Offer,
  attempt: number,
  o: { quiet?: boolean },
): Promise<Attempted> {
  const location = `${offer.provider}/${offer.region}`;
  state.fatalProviders.delete(offer.provider);
  state.event('provisioned', `instance ${instance.id} up on ${location}`, {
    instanceId: instance.id,
    location,
  });
  state.live.set(instance.id, {
    provider: instance.provider,
    id: instance.id,
    region: instance.region,
    zone: instance.zone,
  });
  // Billed from its launch (when the provider says) at the offer's price, until it ends.
  const launched = instance.launchedAt ? Date.parse(instance.launchedAt) : NaN;
  state.charge(
    instance.id,
    offer.pricePerHour,
    Number.isNaN(launched) ? Date.now() : Math.min(launched, Date.now()),
  );
  let ready: AgentOutcome<unknown>;
  try {
    const grace = state.spec.health.startupGrace;
    const summary = state.waitFor(
      `wait until ${shortId(instance.id)} is ready (grace ${durationText(grace)})`,
    );
    ready = await raceAgent(state, instance, () =>
      waitReady.executeWithOptions({ summary }, [{ ref: instance, timeoutMs: grace }]),
    );
  } catch (err) {
    // Cancelled while it booted (a hedged offer was ready first): it must not run on.
    if (isCancellation(err) && patched(PATCH_END_CANCELLED_BOOT)) {
      await endInstance(state, instance, 'its provisioning was cancelled', true);
    }
    throw err;
  }
  if (ready.kind === 'done') return { kind: 'ready', instance, offer, attempt };
  await endInstance(state, instance, 'it never became ready', true);
  if (ready.kind === 'stop') return { kind: 'stop' };
  const why = `instance ${instance.id} on ${location} never became ready: ${ready.reason}`;
  state.event('lost', why, { instanceId: instance.id, location });
  state.block(offer, 'zone', 'an instance that never became ready');
  if (!o.quiet) recordFailedStart(state, why);
  return { kind: 'failed' };
}
