/**
 * The provider contract (model: SkyPilot's sky/provision). Each cloud or pool lives in its own
 * folder behind this interface; the workflow only ever sees these shapes.
 */

import type { Offer } from '../common/offer';
import type { ProviderCheck } from './check';
import { connectionEnv, SECRET_ENV, type TemporalConnection } from '../temporal-connection';

export type { FailureScope, Location, Offer } from '../common/offer';
export { isOfInstallation, type Installation } from '../common/installation';

/** Who an instance belongs to; stamped on it at launch (tags, labels, or the local state file). */
export interface InstanceOwner {
  /** The owner mark providers list by: reconcile only ever looks at instances carrying it. */
  owner: string;
  /** Temporal namespace of the installation that launched it. */
  namespace: string;
  /** Id of the installation that launched it. */
  installation: string;
  workload: string;
  workflowId: string;
  attempt: number;
}

/**
 * What every agent is started with: how it reaches Temporal (address and namespace as the
 * instance reaches them). A local agent gets the worker's own connection, credentials included;
 * a cloud agent gets only public settings and `secrets`.
 */
export interface AgentSettings extends TemporalConnection {
  /** Dead-man's switch: stop the workload after this long without Temporal; undefined = off. */
  deadManTimeoutMs?: number;
  /** Cloud agents: where each credential is fetched with the instance's role ("aws:<ARN>", "gcp:<name>"). */
  secrets?: Partial<Record<keyof typeof SECRET_ENV, string>>;
}

/** The variables that tell an agent how to reach Temporal: TEMPORAL_* and where its secrets are. */
export function agentConnectionEnv(agent: AgentSettings): Record<string, string> {
  const env = connectionEnv(agent);
  for (const [name, where] of Object.entries(agent.secrets ?? {})) {
    if (where) env[SECRET_ENV[name as keyof typeof SECRET_ENV]] = where;
  }
  return env;
}

/** The agent's DRIFTLESS_DEAD_MAN_TIMEOUT value for these settings. */
export function deadManEnvValue(agent: AgentSettings): string {
  return agent.deadManTimeoutMs === undefined ? 'off' : `${agent.deadManTimeoutMs}ms`;
}

export interface ProvisionRequest {
  offer: Offer;
  /** Derived from workflow id + attempt + everything that makes the request different. */
  idempotencyKey: string;
  labels: InstanceOwner;
  /** How the agent on the instance reaches Temporal, and how long it may go without it. */
  agent: AgentSettings;
  signal?: AbortSignal;
}

export type InstanceState = 'pending' | 'running' | 'preempted' | 'stopped' | 'terminated' | 'not-found';

/** Enough to find an instance again: it is known by its id, never by its address alone. */
export interface InstanceRef {
  provider: string;
  id: string;
  region: string;
  zone: string;
  /**
   * ISO time the provider launched it, when known: a provider whose listings lag behind a launch
   * (EC2) takes "not found" shortly after it as "not visible yet", on whichever worker asks.
   */
  launchedAt?: string;
}

/** An instance found by its owner mark. */
export interface OwnedInstance extends InstanceRef {
  labels?: Partial<InstanceOwner>;
}

export interface Instance extends InstanceRef {
  offer: Offer;
  /** Network address, when the instance has one. */
  address?: string;
  state: InstanceState;
  /** Provider-specific facts worth showing (pid, log path, GPU indexes...). */
  details?: Record<string, string | number | undefined>;
}

export interface Provider {
  /** As configured: "aws", "gcp", "local". */
  readonly name: string;
  /** Catalog, filtered to the configured regions or pools. */
  offers(): Promise<Offer[]>;
  /** Idempotent on `req.idempotencyKey`: a retried call returns the same instance. */
  provision(req: ProvisionRequest): Promise<Instance>;
  describe(ref: InstanceRef, signal?: AbortSignal): Promise<InstanceState>;
  /**
   * The states of many instances in as few calls as the provider allows (one per region or
   * project, say), for the batched watch. An id missing from the answer could not be told
   * (not counted either way). Without it, each instance is described on its own.
   */
  describeMany?(refs: InstanceRef[], signal?: AbortSignal): Promise<Map<string, InstanceState>>;
  /** Idempotent: an instance that is already gone is success. */
  terminate(ref: InstanceRef, signal?: AbortSignal): Promise<void>;
  /** Instances carrying this owner's mark, for reconcile and leak checks. */
  listOwned(owner: string): Promise<OwnedInstance[]>;
  /** Do the credentials work, which regions or zones answer; launches nothing, never throws for a place. */
  check(signal?: AbortSignal): Promise<ProviderCheck>;
  /** Releases clients and sockets, when the provider holds any. */
  close?(): void | Promise<void>;
}
