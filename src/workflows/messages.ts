import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { InstanceRef, InstanceState } from '../providers/types';
import type { WorkloadSpec } from '../spec/workload-spec';
import type { WorkloadStatus } from './types';

/** Stop the workload: terminate its instance and complete the workflow. */
export const stopSignal = defineSignal<[{ reason?: string }?]>('stop');

/** Phase, current placement, attempts and the timeline. */
export const statusQuery = defineQuery<WorkloadStatus>('status');

export interface MigrateRequest {
  /** "provider", "provider/region" or "provider/region/zone"; absent: the best offer elsewhere. */
  to?: string;
  /** Free text for the timeline, e.g. "maintenance on lab-a". */
  reason?: string;
}

export interface MigrateResult {
  /** provider/region/zone it left ("" when nothing was running). */
  from: string;
  /** provider/region/zone it runs at now. */
  to: string;
  instanceId: string;
  /** Milliseconds from the request to the switch. */
  tookMs: number;
}

/**
 * Move the workload: services make-before-break (the new instance runs and is healthy before
 * the old one is terminated), jobs stop and start again at the target. The validator rejects
 * a target the spec forbids or that has no offer, and changes nothing.
 */
export const migrateUpdate = defineUpdate<MigrateResult, [MigrateRequest]>('migrate');

/** The same request as a signal (the Web UI sends signals); a rejection lands in the timeline. */
export const migrateSignal = defineSignal<[MigrateRequest]>('migrate');

export interface ApplyRequest {
  spec: WorkloadSpec;
  /** Hash of the spec as the client computed it (the memo keeps it). */
  specHash: string;
}

export interface ApplyResult {
  changed: boolean;
  message: string;
  /** Where it runs after the update. */
  location?: string;
  instanceId?: string;
}

/** Apply a spec to the running workload: unchanged is a no-op; a change re-places it. */
export const applyUpdate = defineUpdate<ApplyResult, [ApplyRequest]>('apply');

/** What the provider says became of an instance the workflow has (sent by the watcher). */
export interface InstanceStateReport {
  instanceId: string;
  state: InstanceState;
}

/** The watcher saw the instance gone (twice in a row): the workflow treats it as lost. */
export const instanceStateSignal = defineSignal<[InstanceStateReport]>('instanceState');

/** An instance to watch, and the workflow to tell when it is gone. */
export interface WatchEntry {
  ref: InstanceRef;
  workflowId: string;
}

/** Watch an instance (idempotent: a second watch of one id replaces the first). */
export const watchSignal = defineSignal<[WatchEntry]>('watch');

/** The instances the watcher watches. */
export const watchedQuery = defineQuery<WatchEntry[]>('watched');
