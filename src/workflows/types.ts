import type { Block, RejectedOffer } from '../placement/rank';
import type { Instance, InstanceState, Offer } from '../providers/types';
import type { CostLedger } from '../common/cost';
import type { WorkloadSpec } from '../spec/workload-spec';

export type Phase =
  | 'PENDING' // placing, or waiting for a location to become available
  | 'PROVISIONING'
  | 'STARTING' // instance up, waiting for the agent to start the workload
  | 'RUNNING'
  | 'RECOVERING' // the instance was lost or the workload failed; moving on
  | 'STOPPING'
  | 'STOPPED'
  | 'SUCCEEDED'
  | 'FAILED';

export interface TimelineEvent {
  /** ISO time. */
  at: string;
  type:
    | 'placed'
    | 'no-offer'
    | 'provisioning'
    | 'provision-failed'
    | 'provisioned'
    | 'running'
    | 'lost'
    | 'exited'
    | 'terminated'
    | 'blocked'
    | 'restarting'
    | 'restarted'
    | 'stopping'
    | 'workload-stopped'
    | 'stopped'
    | 'succeeded'
    | 'failed'
    | 'unhealthy'
    | 'notice'
    | 'migrating'
    | 'switched'
    | 'migrate-failed'
    | 'migrate-rejected'
    | 'updated'
    | 'continued'
    | 'abandoned';
  message: string;
  instanceId?: string;
  location?: string;
}

export interface WorkloadInput {
  spec: WorkloadSpec;
  /** The spec's hash, as the client computed it; kept in the memo so `apply` can tell a change. */
  specHash?: string;
  /** Upsert the Driftless* search attributes (only when the namespace has them registered). */
  searchAttributes?: boolean;
  /** Upsert DriftlessCost, the accrued cost, at each transition (when the namespace has it registered). */
  costAttribute?: boolean;
  /** State carried over by continue-as-new. */
  carried?: CarriedState;
  /**
   * Continue-as-new once the history has this many events, besides when the server suggests it
   * (tests and operators use a small number to exercise it). @default the server's suggestion only
   */
  continueAsNewAfterEvents?: number;
  /** How long one supervision activity runs before it returns to the workflow. @default 1h */
  superviseSliceMs?: number;
}

/** What a run hands to the next one when it continues as new. */
export interface CarriedState {
  status: WorkloadStatus;
  /** Times (ms) of the restarts that count against the restart window. */
  restartTimes: number[];
  /** The instance's started workload, so the new run supervises it without starting it again. */
  port?: number;
  /**
   * The workload on the current instance failed and its backoff is over: the new run restarts
   * it in place rather than supervising a workload that is not running.
   */
  restartDue?: boolean;
  /**
   * What the watcher reported of the current instance (gone), when the report came as the run
   * continued as new: the new run acts on it rather than waiting for a report that never comes
   * again (the watcher no longer watches an instance it reported).
   */
  providerStates?: Record<string, InstanceState>;
}

export interface CurrentPlacement {
  provider: string;
  region: string;
  zone: string;
  instanceId: string;
  instanceType: string;
  gpuType?: string;
  gpuCount: number;
  pricePerHour: number;
  details?: Instance['details'];
  since: string;
  /** Network address of the instance, when it has one. */
  address?: string;
  /** Where an HTTP workload serves: "address:port". */
  endpoint?: string;
  /** When the provider launched it, when it says (AWS's launch-visibility window runs from it). */
  launchedAt?: string;
  /** Restarts in place on this instance so far (the agent's generation of the workload). */
  restartsHere?: number;
}

export interface WorkloadStatus {
  name: string;
  kind: WorkloadSpec['kind'];
  phase: Phase;
  /** ISO time the workload entered its phase. */
  phaseSince?: string;
  current?: CurrentPlacement;
  /** Provision attempts so far (each one has its own idempotency key). */
  attempts: number;
  /** Restarts after the workload failed (counted against recovery.maxRestarts). */
  restarts: number;
  /** Re-placements after an instance was lost (outage, preemption, dead agent) or never started. */
  recoveries: number;
  /**
   * What went wrong at each start since the workload last reached RUNNING (an instance that never
   * became ready or never started the workload); at recovery.maxStartFailures the workflow fails.
   */
  failedStarts?: string[];
  /** Losses of a running instance within recovery.recoveryWindow (against maxRecoveries); `at` in ms. */
  recentLosses?: Array<{ at: number; reason: string }>;
  blocks: Block[];
  /** The last placement: chosen offer first, then the rest, and the offers passed over. */
  lastPlacement?: {
    candidates: Offer[];
    rejected: RejectedOffer[];
    providerErrors?: string[];
    /** provider/region/zone of every location with a fitting offer. */
    locations?: string[];
    /** Why locations without a fitting offer have none. */
    reasonsByLocation?: Record<string, string>;
  };
  /** A migration or spec update in progress. */
  moving?: { kind: 'migrate' | 'apply'; to: string; since: string };
  /** Continue-as-new runs so far. */
  runs?: number;
  /**
   * Attempts launched (or being launched) that are neither current nor ended yet: what a
   * provision, a hedge or a move has in flight. Reconcile keeps their instances.
   */
  inflight?: number[];
  /**
   * Instances launched or draining that are neither current nor ended yet (the old instance of a
   * make-before-break move, a hedged one booting): reconcile keeps them. Absent when there are none.
   */
  live?: string[];
  /** Instances and attempts the workflow could not end; reconcile treats them as unclaimed. */
  abandoned?: { instances: string[]; attempts: number[] };
  timeline: TimelineEvent[];
  /** What its instances have cost: ended ones summed, open ones with price and start (src/common/cost.ts). */
  cost?: CostLedger;
  /** The spec's budget.maxTotal (in the query's answer only). */
  budgetUsd?: number;
  /**
   * The workflow's current details, as the Web UI shows them (markdown, ./details.ts; in the
   * query's answer only).
   */
  details?: string;
  /** Set once the workload has ended. */
  result?: WorkloadResult;
}

export interface WorkloadResult {
  phase: 'STOPPED' | 'SUCCEEDED';
  exitCode?: number | null;
  message: string;
}
