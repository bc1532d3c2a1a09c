import type { Block, RejectedOffer } from '../placement/rank';
import type { Instance, Offer } from '../providers/types';
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
    | 'stopping'
    | 'stopped'
    | 'succeeded'
    | 'failed';
  message: string;
  instanceId?: string;
  location?: string;
}

export interface WorkloadInput {
  spec: WorkloadSpec;
  /** Upsert the Driftless* search attributes (only when the namespace has them registered). */
  searchAttributes?: boolean;
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
}

export interface WorkloadStatus {
  name: string;
  kind: WorkloadSpec['kind'];
  phase: Phase;
  current?: CurrentPlacement;
  /** Provision attempts so far (each one has its own idempotency key). */
  attempts: number;
  /** Restarts after the workload failed (counted against recovery.maxRestarts). */
  restarts: number;
  /** Re-placements after an instance was lost (outage, preemption, dead agent). */
  recoveries: number;
  blocks: Block[];
  /** The last placement: chosen offer first, then the rest, and the offers passed over. */
  lastPlacement?: { candidates: Offer[]; rejected: RejectedOffer[]; providerErrors?: string[] };
  timeline: TimelineEvent[];
  /** Set once the workload has ended. */
  result?: WorkloadResult;
}

export interface WorkloadResult {
  phase: 'STOPPED' | 'SUCCEEDED';
  exitCode?: number | null;
  message: string;
}
