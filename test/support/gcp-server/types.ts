/** The shapes the fake Compute Engine (../gcp-server.ts) records, keeps and emits. */

/** The calls the fake knows, named as the client library's methods. */
export type GceRpc =
  | 'instances.insert'
  | 'instances.get'
  | 'instances.delete'
  | 'instances.list'
  | 'instances.aggregatedList'
  | 'zoneOperations.get'
  | 'zoneOperations.wait'
  | 'zoneOperations.list'
  | 'zones.get'
  | 'zones.list';

export type Json = Record<string, unknown>;

export interface RecordedRequest {
  rpc: GceRpc | 'unknown';
  method: string;
  path: string;
  query: Record<string, string>;
  zone?: string;
  requestId?: string;
  /** The parsed JSON body (POST). */
  body?: Record<string, unknown>;
  /** The Authorization header, if one was sent. */
  authorization?: string;
}

export interface FakeOperation extends Json {
  kind: 'compute#operation';
  id: string;
  name: string;
  zone: string;
  operationType: string;
  targetLink: string;
  targetId: string;
  status: 'PENDING' | 'RUNNING' | 'DONE';
  progress: number;
  insertTime: string;
  selfLink: string;
}

export interface FakeInstance extends Json {
  id: string;
  name: string;
  zone: string;
  status: string;
  labels?: Record<string, string>;
  metadata?: { items?: Array<{ key: string; value: string }> };
  scheduling?: { provisioningModel?: string; instanceTerminationAction?: string; onHostMaintenance?: string };
}

/** Why an instance stopped running. */
export type StopReason = 'deleted' | 'preempted' | 'removed' | 'stopped';

export interface FakeGceEvents {
  /** Each request as it arrives, before it is answered. */
  request: [request: RecordedRequest];
  running: [instance: FakeInstance, startupScript: string | undefined];
  stopped: [instance: FakeInstance, reason: StopReason];
}

export interface FakeGceOptions {
  /** @default "test-project" */
  project?: string;
  /** Zones it has. @default us-central1-a/b/c/f, us-east1-b/c/d, europe-west4-a/b/c */
  zones?: string[];
  /** PROVISIONING -> STAGING. @default 30 */
  provisioningMs?: number;
  /** STAGING -> RUNNING. @default 30 */
  stagingMs?: number;
  /** An insert operation is DONE after this. @default 60 */
  operationMs?: number;
  /** A delete keeps the instance STOPPING this long; then it is gone and the operation DONE. @default 30 */
  deleteMs?: number;
  /** A preempted instance is STOPPING this long before it is TERMINATED or deleted (GCE: up to 30 s). @default 30 */
  preemptMs?: number;
  /** ZoneOperations.wait answers after at most this, DONE or not (GCE: two minutes). @default 2000 */
  waitMaxMs?: number;
  /**
   * How many wait calls on each operation answer at once with its current state (GCE's wait is
   * "best effort" and "might return after zero seconds"). @default 1
   */
  earlyWaits?: number;
  /** How long a requestId is remembered (GCE: "at least 60 minutes"). @default 3_600_000 */
  requestIdRetentionMs?: number;
  /** How long a DONE operation can still be read or listed; then it is 404. @default 3_600_000 */
  operationRetentionMs?: number;
  /** The most items a list page holds, whatever maxResults asks (GCE: 500). @default 500 */
  maxPageSize?: number;
  /** @default 127.0.0.1 and a free port */
  port?: number;
}
