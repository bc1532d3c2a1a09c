/**
 * The workload workflow's state and its bookkeeping: the status the `status` query returns,
 * the spec in force, pending moves, instances not yet ended, and the timeline, phase, search
 * attribute and block updates every other module goes through.
 */
import {
  getCurrentDetails,
  log,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  defineSearchAttributeKey,
  SearchAttributeType,
  type SearchAttributeUpdatePair,
} from '@temporalio/common';
import { closeCharge, costSoFar, emptyLedger, openCharge } from '../../common/cost';
import { SEARCH_ATTRIBUTES } from '../../common/names';
import { blockLabel, type Block } from '../../placement/rank';
import type { Target } from '../../placement/target';
import type { FailureScope, InstanceRef, InstanceState, Offer } from '../../providers/types';
import type { WorkloadSpec } from '../../spec/workload-spec';
import { currentDetails } from '../details';
import type { MigrateResult } from '../messages';
import type { CurrentPlacement, Phase, TimelineEvent, WorkloadInput, WorkloadStatus } from '../types';

const TIMELINE_LIMIT = 200;
/** Abandoned instances and attempts remembered for reconcile. */
const ABANDONED_LIMIT = 50;

const SA = {
  phase: defineSearchAttributeKey(SEARCH_ATTRIBUTES.phase.name, SearchAttributeType.KEYWORD),
  provider: defineSearchAttributeKey(SEARCH_ATTRIBUTES.provider.name, SearchAttributeType.KEYWORD),
  region: defineSearchAttributeKey(SEARCH_ATTRIBUTES.region.name, SearchAttributeType.KEYWORD),
  gpuType: defineSearchAttributeKey(SEARCH_ATTRIBUTES.gpuType.name, SearchAttributeType.KEYWORD),
  price: defineSearchAttributeKey(SEARCH_ATTRIBUTES.pricePerHour.name, SearchAttributeType.DOUBLE),
  cost: defineSearchAttributeKey(SEARCH_ATTRIBUTES.cost.name, SearchAttributeType.DOUBLE),
};

/** A request to move the workload: a migration or a changed spec. */
export interface Move {
  id: number;
  kind: 'migrate' | 'apply';
  target?: Target;
  /** The spec to run after the move (apply). */
  spec?: WorkloadSpec;
  specHash?: string;
  reason?: string;
  requestedAt: number;
}

export type MoveResult = { ok: true; value: MigrateResult } | { ok: false; error: string };

/** How the workflow finds an instance again from what its status keeps. */
export function refOf(c: CurrentPlacement): InstanceRef {
  const ref: InstanceRef = { provider: c.provider, id: c.instanceId, region: c.region, zone: c.zone };
  if (c.launchedAt !== undefined) ref.launchedAt = c.launchedAt;
  return ref;
}

/** The instances not yet ended, their ids mirrored in `status.live` on every change (reconcile reads it). */
class LiveInstances extends Map<string, InstanceRef> {
  constructor(private readonly status: WorkloadStatus) {
    super();
    this.mirror();
  }

  override set(id: string, ref: InstanceRef): this {
    super.set(id, ref);
    this.mirror();
    return this;
  }

  override delete(id: string): boolean {
    const had = super.delete(id);
    this.mirror();
    return had;
  }

  /** Absent when empty; a carried status's list goes, as this run starts with none. */
  private mirror(): void {
    if (this.size > 0) this.status.live = [...this.keys()];
    else delete this.status.live;
  }
}

export class WorkloadState {
  /** What the `status` query returns, and what a continue-as-new carries. */
  readonly status: WorkloadStatus;
  spec: WorkloadSpec;
  specHash: string | undefined;
  /** Times (ms) of the restarts that count against the restart window. */
  restartTimes: number[];
  /** Port of the current instance's HTTP workload. */
  currentPort: number | undefined;
  stopReason: string | undefined;
  /** Set once budget.maxTotal is reached (./budget.ts): the stop is for this reason. */
  budgetReason: string | undefined;
  /** Invalid-request and auth failures: surfaced when no other offer is left. */
  readonly fatal: string[] = [];
  fatalType: string | undefined;
  /** Providers whose latest provision failed fatally (auth, invalid request); see waitForOffers. */
  readonly fatalProviders = new Set<string>();
  /** The migration or spec update being carried out. */
  pending: Move | undefined;
  moveSeq = 0;
  /** Outcomes of moves, until the update that asked for each reads it. */
  readonly moveResults = new Map<number, MoveResult>();
  /** What the watcher reported of instances it saw gone, by instance id. */
  readonly providerStates = new Map<string, InstanceState>();
  /** Instances this run launched or is draining that are not current and not yet ended. */
  readonly live: Map<string, InstanceRef>;
  readonly workflowId: string;
  readonly firstExecutionRunId: string;
  /** What the workflow waits for now, in words (the current details show it). */
  waitingFor: string | undefined;

  constructor(readonly input: WorkloadInput) {
    const carried = input.carried;
    this.spec = input.spec;
    this.specHash = input.specHash;
    this.status = carried
      ? { ...carried.status, runs: (carried.status.runs ?? 0) + 1 }
      : {
          name: input.spec.name,
          kind: input.spec.kind,
          phase: 'PENDING',
          attempts: 0,
          restarts: 0,
          recoveries: 0,
          blocks: [],
          timeline: [],
        };
    this.live = new LiveInstances(this.status);
    this.restartTimes = carried?.restartTimes ?? [];
    this.currentPort = carried?.port;
    for (const [id, st] of Object.entries(carried?.providerStates ?? {})) this.providerStates.set(id, st);
    const info = workflowInfo();
    this.workflowId = info.workflowId;
    this.firstExecutionRunId = info.firstExecutionRunId;
    this.status.phaseSince ??= new Date().toISOString();
    this.describe();
  }

  get stopped(): boolean {
    return this.stopReason !== undefined;
  }

  get heartbeatTimeoutMs(): number {
    return this.spec.health.heartbeatTimeout;
  }

  /** True when the history should be handed to a new run (the server suggests it, or the test knob). */
  continueAsNewDue(): boolean {
    // workflowInfo() afresh: the SDK replaces the info object on every activation.
    const info = workflowInfo();
    const after = this.input.continueAsNewAfterEvents;
    return info.continueAsNewSuggested || (after !== undefined && info.historyLength >= after);
  }

  event(type: TimelineEvent['type'], message: string, extra: Partial<TimelineEvent> = {}): void {
    const timeline = this.status.timeline;
    timeline.push({ at: new Date().toISOString(), type, message, ...extra });
    if (timeline.length > TIMELINE_LIMIT) timeline.splice(0, timeline.length - TIMELINE_LIMIT);
    log.info(message, { workload: this.spec.name, event: type, ...extra });
    this.describe();
  }

  /**
   * Says what the workflow waits for now (the current details show it) and returns the words,
   * which the activity or timer it waits on carries as its summary.
   */
  waitFor(what: string): string {
    this.waitingFor = what;
    this.describe();
    return what;
  }

  /**
   * Sets the workflow's current details (the Web UI's panel; `driftless status` prints them).
   * User metadata, no command: replay is unaffected.
   */
  describe(): void {
    setCurrentDetails(currentDetails(this.status, { now: Date.now(), waiting: this.waitingFor }));
  }

  /** Upserts the search attributes the Web UI shows (when the namespace has them). */
  publish(): void {
    if (!this.input.searchAttributes) return;
    const pairs: SearchAttributeUpdatePair[] = [{ key: SA.phase, value: this.status.phase }];
    const c = this.status.current;
    if (c) {
      pairs.push({ key: SA.provider, value: c.provider }, { key: SA.region, value: c.region });
      pairs.push({ key: SA.price, value: c.pricePerHour });
      if (c.gpuType) pairs.push({ key: SA.gpuType, value: c.gpuType });
    }
    // Only where the namespace has it (an older one may have the five above alone).
    if (this.input.costAttribute) {
      pairs.push({ key: SA.cost, value: Math.round(costSoFar(this.status.cost, Date.now()) * 1e4) / 1e4 });
    }
    upsertSearchAttributes(pairs);
  }

  /** Starts charging an instance at its offer's price (src/common/cost.ts). */
  charge(instanceId: string, pricePerHour: number, sinceMs: number): void {
    openCharge((this.status.cost ??= emptyLedger()), instanceId, pricePerHour, sinceMs);
  }

  /** Stops charging an instance: it ended (or is reconcile's now). */
  uncharge(instanceId: string): void {
    if (this.status.cost) closeCharge(this.status.cost, instanceId, Date.now());
  }

  setPhase(phase: Phase): void {
    if (this.status.phase === phase) return;
    this.status.phase = phase;
    this.status.phaseSince = new Date().toISOString();
    if (phase === 'STOPPED' || phase === 'SUCCEEDED' || phase === 'FAILED') this.waitingFor = undefined;
    this.publish();
    this.describe();
  }

  /** The blocks still in force (expired ones are dropped). */
  activeBlocks(): Block[] {
    const now = Date.now();
    this.status.blocks = this.status.blocks.filter((b) => b.until > now);
    return this.status.blocks;
  }

  /** Blocks a zone, region or whole provider for the spec's cooldown. */
  block(loc: Pick<Offer, 'provider' | 'region' | 'zone'>, scope: FailureScope, reason: string): void {
    const cooldown = this.spec.recovery.cooldown;
    const b: Block = {
      provider: loc.provider,
      region: scope === 'provider' ? undefined : loc.region,
      zone: scope === 'zone' ? loc.zone : undefined,
      until: Date.now() + cooldown,
      reason,
    };
    this.status.blocks = this.activeBlocks().filter((x) => blockLabel(x) !== blockLabel(b));
    this.status.blocks.push(b);
    this.event('blocked', `${blockLabel(b)} blocked for ${cooldown / 1000}s after ${reason}`, {
      location: blockLabel(b),
    });
  }

  /** What could not be ended; reconcile ends it (see src/reconcile/decide.ts). */
  abandon(kind: 'instances' | 'attempts', id: string | number, why: string): void {
    const a = (this.status.abandoned ??= { instances: [], attempts: [] });
    if (kind === 'instances') a.instances = [...a.instances, String(id)].slice(-ABANDONED_LIMIT);
    else a.attempts = [...a.attempts, Number(id)].slice(-ABANDONED_LIMIT);
    this.event(
      'abandoned',
      `${kind === 'instances' ? `instance ${id}` : `attempt ${id}`} left to reconcile: ${why}`,
    );
  }

  /** A new provision attempt: counted, and in flight until it is current, ended or failed. */
  beginAttempt(): number {
    const attempt = ++this.status.attempts;
    this.status.inflight = [...(this.status.inflight ?? []), attempt];
    return attempt;
  }

  /** The attempt is over: current, ended, or never launched anything (reconcile's claims). */
  settled(attempt: number): void {
    this.status.inflight = (this.status.inflight ?? []).filter((a) => a !== attempt);
  }

  /** What the `status` query answers: a copy, so the query changes nothing. */
  snapshot(): WorkloadStatus {
    const budget = this.spec.budget?.maxTotal;
    return {
      ...this.status,
      blocks: this.status.blocks.filter((b) => b.until > Date.now()),
      ...(budget !== undefined ? { budgetUsd: budget } : {}),
      details: getCurrentDetails(),
    };
  }
}
