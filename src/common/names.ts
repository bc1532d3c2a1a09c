/**
 * Names shared by the client, the worker, the agents and the sandboxed workflow code.
 * Pure constants and functions only: this module is imported inside the workflow sandbox.
 */

/** Task queue the driftless worker polls for workflows and control-plane activities. @default */
export const DEFAULT_TASK_QUEUE = 'driftless';

/** Task queue of the agent running on one instance: an instance is known by id, never by address. */
export function instanceTaskQueue(instanceId: string): string {
  return `instance-${instanceId}`;
}

/** One workflow per workload: applying the same name again reaches the same workflow. */
export function workloadWorkflowId(name: string): string {
  return `workload-${name}`;
}

/** Inverse of {@link workloadWorkflowId}; undefined for ids that are not workload workflows. */
export function workloadNameFromWorkflowId(workflowId: string): string | undefined {
  return workflowId.startsWith('workload-') ? workflowId.slice('workload-'.length) : undefined;
}

/** Workflow type name as registered by the worker. */
export const WORKLOAD_WORKFLOW_TYPE = 'workloadWorkflow';

/** The batched watch's workflow type (src/workflows/watcher.ts). */
export const WATCHER_WORKFLOW_TYPE = 'watcherWorkflow';

/** One watcher per installation: its workers' task queue. */
export function watcherWorkflowId(taskQueue: string): string {
  return `driftless-watcher-${taskQueue}`;
}

/** Custom search attributes shown in the Temporal Web UI; registered when the dev server starts. */
export const SEARCH_ATTRIBUTES = {
  phase: { name: 'DriftlessPhase', type: 'Keyword' },
  provider: { name: 'DriftlessProvider', type: 'Keyword' },
  region: { name: 'DriftlessRegion', type: 'Keyword' },
  gpuType: { name: 'DriftlessGpuType', type: 'Keyword' },
  pricePerHour: { name: 'DriftlessPricePerHour', type: 'Double' },
  /** US dollars the workload's instances have cost so far, as of its last transition. */
  cost: { name: 'DriftlessCost', type: 'Double' },
} as const;

/**
 * Failure types: the `type` of every ApplicationFailure driftless raises. Provider errors carry
 * their class names; workflows and the CLI branch on these strings, never on literals.
 */
export const FailureType = {
  Capacity: 'CapacityError',
  Quota: 'QuotaError',
  Transient: 'TransientProviderError',
  ProviderUnavailable: 'ProviderUnavailableError',
  InvalidRequest: 'InvalidRequestError',
  Auth: 'AuthError',
  /** The instance ended, or stayed pending past the startup grace, before it became ready. */
  InstanceNotReady: 'InstanceNotReady',
  /** A migration or spec update could not be carried out (the update's failure). */
  MigrationFailed: 'MigrationFailed',
  /** Starts failed (never ready, never started) recovery.maxStartFailures times in a row. */
  StartFailed: 'StartFailedError',
  /** Running instances were lost more than recovery.maxRecoveries times within the window. */
  TooManyRecoveries: 'TooManyRecoveriesError',
  /** The workload failed more often than its recovery policy allows. */
  WorkloadFailed: 'WorkloadFailedError',
  /** What its instances cost reached the spec's budget.maxTotal (a job fails; a service stops). */
  BudgetExceeded: 'BudgetExceededError',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];
