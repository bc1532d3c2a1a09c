import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FailureType, WATCHER_WORKFLOW_TYPE, watcherWorkflowId } from '../common/names';
import type { Logger } from '../logger';
import { boundForMove, fittingLocations, gatherOffers, reasonsByLocation } from '../placement/place';
import { rankOffers, type Block, type RankedOffer, type RejectedOffer } from '../placement/rank';
import type { Target } from '../placement/target';
import { describeMany } from '../providers/describe-many';
import { ProviderError, ProviderUnavailableError } from '../providers/errors';
import { isOfInstallation } from '../providers/types';
import type {
  AgentSettings,
  Instance,
  InstanceOwner,
  InstanceRef,
  InstanceState,
  Installation,
  Location,
  Offer,
  Provider,
} from '../providers/types';
import type { WorkloadSpec } from '../spec/workload-spec';
import { watchSignal } from '../workflows/messages';

export interface ActivityDeps {
  providers: Map<string, Provider>;
  logger: Logger;
  /** How the agents of each provider reach Temporal, and their dead-man's timeout (providers/agent-settings.ts). */
  agentTemporal: (provider: string) => AgentSettings;
  /** This installation's owner mark. */
  owner: string;
  /** This installation's namespace and id, marked on every instance; compensation matches both. */
  installation: Installation;
  /** Injected for tests. @default Date.now */
  now?: () => number;
  /** The batched watch: the watcher workflow is reached (and started) through this client. */
  watch?: {
    client: () => Promise<Client>;
    /** The workers' task queue: the watcher runs there, one per installation. */
    taskQueue: string;
    /** How often the watcher describes every watched instance. */
    intervalMs: number;
  };
}

export interface PlaceInput {
  spec: WorkloadSpec;
  blocks: Block[];
  /** Only offers at this target (a migration). */
  target?: Target;
  /** Never this provider/region/zone (the location a migration leaves). */
  avoid?: Location;
}

/** A placement, trimmed to what the workflow keeps in its history. */
export interface PlaceResult {
  /** Best first; at most {@link RANKED_LIMIT}. */
  ranked: RankedOffer[];
  /** At most {@link REJECTED_LIMIT}. */
  rejected: RejectedOffer[];
  /** Every provider/region/zone (see locationKey) with a fitting offer, target and avoid aside. */
  locations: string[];
  /** For locations without a fitting offer: why their first offer was passed over. */
  reasonsByLocation: Record<string, string>;
  providerErrors: string[];
}

export const RANKED_LIMIT = 50;
export const REJECTED_LIMIT = 100;

export interface ProvisionInput {
  offer: Offer;
  idempotencyKey: string;
  /** The workflow's marks; the worker adds the owner, namespace and installation. */
  labels: Omit<InstanceOwner, 'owner' | 'namespace' | 'installation'>;
}

export interface WatchInput {
  ref: InstanceRef;
  /** @default 1000 */
  intervalMs?: number;
  /** Consecutive "not alive" answers before the instance counts as lost. @default 2 */
  threshold?: number;
}

export interface ReleaseInput {
  provider: string;
  workflowId: string;
  attempt: number;
}

/**
 * Turns a provider error into the failure the workflow decides on; other errors pass through.
 * For a cleanup (terminate, release), a provider that does not answer is worth asking again:
 * the machine is still there and billed.
 */
export function toFailure(err: unknown, opts: { cleanup?: boolean } = {}): unknown {
  if (err instanceof ProviderError) {
    const again = err.retryable || (opts.cleanup === true && err instanceof ProviderUnavailableError);
    return ApplicationFailure.create({
      type: err.name,
      message: err.message,
      nonRetryable: !again,
      details: [{ scope: err.scope, location: err.location, code: err.code }],
    });
  }
  return err;
}

const ALIVE: InstanceState[] = ['pending', 'running'];

/** Control-plane activities, run by the driftless worker. */
export function createActivities(deps: ActivityDeps) {
  const now = deps.now ?? Date.now;
  const log = deps.logger.child({ component: 'activities' });

  const provider = (name: string): Provider => {
    const p = deps.providers.get(name);
    if (!p) {
      throw ApplicationFailure.create({
        type: FailureType.InvalidRequest,
        message: `provider "${name}" is not configured on this worker`,
        nonRetryable: true,
      });
    }
    return p;
  };

  /** The instance's state, or undefined (logged as `failed`) when the provider could not tell: one failed call decides nothing. */
  const describeOrNot = async (
    p: Provider,
    ref: InstanceRef,
    signal: AbortSignal,
    failed: string,
  ): Promise<InstanceState | undefined> => {
    try {
      return await p.describe(ref, signal);
    } catch (err) {
      log.warn({ instanceId: ref.id, err: (err as Error).message }, failed);
      return undefined;
    }
  };

  return {
    /** Ranks every configured provider's offers for the spec; a provider that fails to answer is skipped. */
    async place({ spec, blocks, target, avoid }: PlaceInput): Promise<PlaceResult> {
      const { offers, providerErrors } = await gatherOffers(deps.providers.values());
      const placement = rankOffers(spec, offers, blocks, now());
      const locations = fittingLocations(placement);
      const { ranked, rejected } = boundForMove(placement, { target, avoid });
      log.info(
        { workload: spec.name, candidates: ranked.length, rejected: rejected.length, target, avoid },
        'placed',
      );
      return {
        ranked: ranked.slice(0, RANKED_LIMIT),
        rejected: rejected.slice(0, REJECTED_LIMIT),
        locations,
        reasonsByLocation: reasonsByLocation(placement.rejected, locations),
        providerErrors,
      };
    },

    /** Idempotent on the key: a retry after a worker crash returns the instance the first try made. */
    async provision({ offer, idempotencyKey, labels }: ProvisionInput): Promise<Instance> {
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 1000);
      try {
        return await provider(offer.provider).provision({
          offer,
          idempotencyKey,
          labels: {
            ...labels,
            owner: deps.owner,
            namespace: deps.installation.namespace,
            installation: deps.installation.id,
          },
          agent: deps.agentTemporal(offer.provider),
          signal: ctx.cancellationSignal,
        });
      } catch (err) {
        // Given up because it was cancelled (a hedge loser, a stop): a cancellation, not a
        // failure of the location, which the workflow would block.
        if (ctx.cancellationSignal.aborted) throw new CancelledFailure('provision cancelled');
        throw toFailure(err);
      } finally {
        clearInterval(beat);
      }
    },

    async describeInstance(ref: InstanceRef): Promise<InstanceState> {
      try {
        return await provider(ref.provider).describe(ref, Context.current().cancellationSignal);
      } catch (err) {
        throw toFailure(err);
      }
    },

    /** Idempotent; retried by its policy until it succeeds: a given-up termination leaks money. */
    async terminate(ref: InstanceRef): Promise<void> {
      try {
        await provider(ref.provider).terminate(ref, Context.current().cancellationSignal);
        log.info({ instanceId: ref.id, provider: ref.provider }, 'terminated');
      } catch (err) {
        throw toFailure(err, { cleanup: true });
      }
    },

    /**
     * Compensation for a provision that may have been cut short: ends whatever the attempt
     * launched, found by its owner marks rather than by a remembered id.
     */
    async releaseAttempt({ provider: name, workflowId, attempt }: ReleaseInput): Promise<number> {
      const p = provider(name);
      try {
        const owned = await p.listOwned(deps.owner);
        // The same workflow id and attempt in another installation's namespace is not ours.
        const mine = owned.filter(
          (r) =>
            isOfInstallation(r.labels, deps.installation) &&
            r.labels?.workflowId === workflowId &&
            r.labels?.attempt === attempt,
        );
        await Promise.all(mine.map((r) => p.terminate(r)));
        if (mine.length)
          log.info({ workflowId, attempt, instances: mine.map((r) => r.id) }, 'released attempt');
        return mine.length;
      } catch (err) {
        throw toFailure(err, { cleanup: true });
      }
    },

    /**
     * Waits until the provider reports the instance running (for the local provider: its agent
     * polls). Fails with `InstanceNotReady` when it ends up anything but pending or running, or
     * when `timeoutMs` has passed since the activity was first scheduled: a retry (after a
     * worker died, say) continues the first try's clock rather than starting its own.
     */
    async waitReady({ ref, timeoutMs }: { ref: InstanceRef; timeoutMs: number }): Promise<void> {
      const ctx = Context.current();
      const p = provider(ref.provider);
      const deadline = ctx.info.scheduledTimestampMs + timeoutMs;
      for (;;) {
        const state = await describeOrNot(p, ref, ctx.cancellationSignal, 'describe failed while waiting');
        if (state === 'running') return;
        if (state && !ALIVE.includes(state)) {
          throw ApplicationFailure.create({
            type: FailureType.InstanceNotReady,
            message: `instance ${ref.id} is ${state} before it became ready`,
            nonRetryable: true,
          });
        }
        if (now() > deadline) {
          throw ApplicationFailure.create({
            type: FailureType.InstanceNotReady,
            message: `instance ${ref.id} not ready within ${timeoutMs / 1000}s (state ${state ?? 'unknown'})`,
            nonRetryable: true,
          });
        }
        ctx.heartbeat(state);
        await ctx.sleep(250);
      }
    },

    /**
     * Hands an instance to the installation's watcher (started if it is not running), which
     * tells `workflowId` with the instanceState signal once the provider says it is gone.
     */
    async watch({ ref, workflowId }: { ref: InstanceRef; workflowId: string }): Promise<void> {
      const w = deps.watch;
      if (!w) throw new Error('the batched watch is not configured on this worker');
      const client = await w.client();
      await client.workflow.signalWithStart(WATCHER_WORKFLOW_TYPE, {
        workflowId: watcherWorkflowId(w.taskQueue),
        taskQueue: w.taskQueue,
        args: [{ intervalMs: w.intervalMs }],
        signal: watchSignal,
        signalArgs: [{ ref, workflowId }],
      });
    },

    /**
     * The states of many instances, in one batched call per provider and region where the
     * provider has one. An instance whose state could not be told is left out.
     */
    async describeBatch({ refs }: { refs: InstanceRef[] }): Promise<Record<string, InstanceState>> {
      const signal = Context.current().cancellationSignal;
      const byProvider = new Map<string, InstanceRef[]>();
      for (const r of refs) byProvider.set(r.provider, [...(byProvider.get(r.provider) ?? []), r]);
      const out: Record<string, InstanceState> = {};
      await Promise.all(
        [...byProvider].map(async ([name, list]) => {
          const p = deps.providers.get(name);
          if (!p) return; // not configured on this worker: told by none, counted by none
          const states = await describeMany(p, list, signal, (ref, err) =>
            log.warn(
              { provider: name, instanceId: ref?.id, err: err.message },
              'describe failed; not counted',
            ),
          );
          for (const [id, state] of states) out[id] = state;
        }),
      );
      return out;
    },

    /**
     * Polls the provider's own view of the instance beside the agent's heartbeats and returns
     * once it has been gone for `threshold` consecutive polls (one failed call never counts).
     */
    async watchInstance({
      ref,
      intervalMs = 1000,
      threshold = 2,
    }: WatchInput): Promise<{ state: InstanceState }> {
      const ctx = Context.current();
      const p = provider(ref.provider);
      let misses = 0;
      for (;;) {
        const state = await describeOrNot(p, ref, ctx.cancellationSignal, 'describe failed; not counted');
        if (state && !ALIVE.includes(state)) {
          if (++misses >= threshold) return { state };
        } else if (state) {
          misses = 0;
        }
        ctx.heartbeat({ misses });
        // A first "gone" is confirmed quickly rather than a whole interval later.
        await ctx.sleep(misses > 0 ? Math.min(intervalMs, 250) : intervalMs);
      }
    },
  };
}

export type ControlActivities = ReturnType<typeof createActivities>;
