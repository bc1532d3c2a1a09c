/**
 * Compute Engine instance statuses onto the provider's small state set. Pure, so the mapping is
 * tested from recorded shapes.
 */
import type { InstanceState } from '../types';

/**
 * Operation types with which GCE itself ended an instance: a spot preemption, or a host event a
 * GPU instance cannot live-migrate through (onHostMaintenance TERMINATE).
 */
export const PROVIDER_ENDED_OPERATIONS: ReadonlySet<string> = new Set([
  'compute.instances.preempted',
  'compute.instances.hostError',
  'compute.instances.terminateOnHostMaintenance',
]);

/** The fields of a described instance that decide its state. */
export interface GceStateFields {
  status?: string | null;
  scheduling?: { provisioningModel?: string | null; preemptible?: boolean | null } | null;
}

/** A spot (or legacy preemptible) instance: GCE may take it back at any time. */
export function isSpot(i: GceStateFields): boolean {
  return i.scheduling?.provisioningModel === 'SPOT' || i.scheduling?.preemptible === true;
}

/** Statuses of an instance that is no longer running and will not run again by itself. */
const ENDED = new Set(['STOPPING', 'STOPPED', 'SUSPENDING', 'SUSPENDED', 'TERMINATED', 'DEPROVISIONING']);

/** True when the status is one an ended instance shows, so that the cause is worth looking up. */
export function hasEnded(i: GceStateFields): boolean {
  return ENDED.has(i.status ?? '');
}

/**
 * PROVISIONING/STAGING (and REPAIRING, PENDING) → pending; RUNNING → running; STOPPING, STOPPED,
 * SUSPENDING, SUSPENDED, TERMINATED (GCE's word for a stopped VM that still exists) → stopped;
 * any of these → preempted when GCE did it (`endedByProvider`: a preemption or host-event
 * operation targets the instance).
 */
export function instanceStateOf(i: GceStateFields, endedByProvider = false): InstanceState {
  const status = i.status ?? '';
  if (status === 'RUNNING') return 'running';
  if (ENDED.has(status)) return endedByProvider ? 'preempted' : 'stopped';
  // PROVISIONING, STAGING, REPAIRING, and any status GCE adds later: still there, not running yet.
  return 'pending';
}

/**
 * The state of an instance GCE no longer knows, from the last operation that targeted it:
 * preempted when GCE ended it, terminated when it was deleted, otherwise not-found.
 */
export function goneStateOf(operationTypes: readonly string[]): InstanceState {
  if (operationTypes.some((t) => PROVIDER_ENDED_OPERATIONS.has(t))) return 'preempted';
  if (operationTypes.includes('delete')) return 'terminated';
  return 'not-found';
}
