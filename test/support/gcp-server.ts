/**
 * A fake Compute Engine on loopback, speaking the REST paths and JSON shapes that
 * @google-cloud/compute (6.x, google-gax REST transport) uses:
 *
 *   POST   /compute/v1/projects/{project}/zones/{zone}/instances?requestId=      instances.insert
 *   GET    /compute/v1/projects/{project}/zones/{zone}/instances/{instance}      instances.get
 *   DELETE /compute/v1/projects/{project}/zones/{zone}/instances/{instance}?requestId=  instances.delete
 *   GET    /compute/v1/projects/{project}/zones/{zone}/instances?filter=          instances.list
 *   GET    /compute/v1/projects/{project}/aggregated/instances?filter=&returnPartialSuccess=
 *   GET    /compute/v1/projects/{project}/zones/{zone}/operations/{operation}    zoneOperations.get
 *   POST   /compute/v1/projects/{project}/zones/{zone}/operations/{operation}/wait
 *   GET    /compute/v1/projects/{project}/zones/{zone}/operations?filter=         zoneOperations.list
 *   GET    /compute/v1/projects/{project}/zones/{zone}                           zones.get
 *   GET    /compute/v1/projects/{project}/zones                                  zones.list
 *
 * It keeps state (instances move PROVISIONING -> STAGING -> RUNNING over short delays; a delete
 * goes through STOPPING), honours requestId de-duplication and name uniqueness, and can inject
 * every error class: as an HTTP answer (Google's error JSON) or inside a finished operation. It can
 * preempt a spot instance, lose an instance behind the client's back, go down (503 or refused
 * connections), and tells listeners when an instance starts running (with its startup-script) and
 * when it stops, so that an end-to-end test can play each VM as a local process. It logs nothing.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

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

/** An HTTP error answer in Google's JSON shape. */
export interface HttpFault {
  status: number;
  /** Google's legacy reason ("alreadyExists", "quotaExceeded", "rateLimitExceeded", ...). */
  reason: string;
  message?: string;
  /** Also send a google.rpc.ErrorInfo detail carrying the reason (newer GCE answers do). */
  errorInfo?: boolean;
  /** A body that is not JSON (a proxy's error page). */
  rawBody?: string;
  /** Only calls in this zone. @default every zone */
  zone?: string;
  /** How many calls get it. @default 1 */
  times?: number;
}

/** An operation that finishes (status DONE) with an error instead of doing its work. */
export interface OperationFault {
  /** GCE's code, e.g. "ZONE_RESOURCE_POOL_EXHAUSTED", "QUOTA_EXCEEDED". */
  code: string;
  message?: string;
  /** httpErrorStatusCode of the operation. @default 503 for capacity codes, 403 for quota, else 400 */
  httpStatus?: number;
  /** errorDetails[].quotaInfo of a quota error. */
  quotaInfo?: { metricName: string; limitName: string; dimensions?: Record<string, string>; limit?: number };
  zone?: string;
  /** @default 1 */
  times?: number;
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
  /** ZoneOperations.wait answers after at most this, DONE or not (GCE: two minutes). @default 2000 */
  waitMaxMs?: number;
  /** @default 127.0.0.1 and a free port */
  port?: number;
}

type Json = Record<string, unknown>;

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

const BASE = 'https://www.googleapis.com/compute/v1';
const NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;
const CAPACITY_CODES = new Set(['ZONE_RESOURCE_POOL_EXHAUSTED', 'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS']);

/** Ready-made HTTP faults with the texts GCE sends. */
export const GCE_HTTP_ERRORS = {
  alreadyExists: { status: 409, reason: 'alreadyExists', message: "The resource '{target}' already exists" },
  notFound: { status: 404, reason: 'notFound', message: "The resource '{target}' was not found" },
  quotaExceeded: {
    status: 403,
    reason: 'quotaExceeded',
    message: "Quota 'NVIDIA_T4_GPUS' exceeded.  Limit: 0.0 in region us-central1.",
  },
  gpusAllRegions: {
    status: 403,
    reason: 'quotaExceeded',
    message: "Quota 'GPUS_ALL_REGIONS' exceeded.  Limit: 0.0 globally.",
  },
  rateLimitExceeded: { status: 403, reason: 'rateLimitExceeded', message: 'Rate Limit Exceeded' },
  tooManyRequests: {
    status: 429,
    reason: 'rateLimitExceeded',
    message:
      "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'compute.googleapis.com'",
  },
  forbidden: {
    status: 403,
    reason: 'forbidden',
    message: "Required 'compute.instances.create' permission for '{target}'",
  },
  insufficientPermissions: {
    status: 403,
    reason: 'insufficientPermissions',
    message: 'Request had insufficient authentication scopes.',
  },
  unauthorized: {
    status: 401,
    reason: 'required',
    message: 'Request is missing required authentication credential. Expected OAuth 2 access token.',
  },
  invalid: {
    status: 400,
    reason: 'invalid',
    message:
      "Invalid value for field 'resource.machineType': 'zones/x/machineTypes/nope'. Machine type does not exist.",
  },
  badRequest: { status: 400, reason: 'badRequest', message: 'Bad Request' },
  backendError: {
    status: 503,
    reason: 'backendError',
    message: 'Internal error. Please try again or contact Google Support.',
  },
  internalError: { status: 500, reason: 'backendError', message: 'Internal Error' },
  zoneResourcePoolExhausted: {
    status: 503,
    reason: 'ZONE_RESOURCE_POOL_EXHAUSTED',
    errorInfo: true,
    message:
      "The zone '{zone}' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.",
  },
} satisfies Record<string, HttpFault>;

/** Google's domain of a legacy reason, as the errors[] entries carry it. */
function domainOf(reason: string): string {
  if (/quota|rateLimit/i.test(reason)) return 'usageLimits';
  return 'global';
}

function grpcStatusOf(status: number): string | undefined {
  return {
    400: 'INVALID_ARGUMENT',
    401: 'UNAUTHENTICATED',
    403: 'PERMISSION_DENIED',
    404: 'NOT_FOUND',
    409: 'ALREADY_EXISTS',
    429: 'RESOURCE_EXHAUSTED',
    500: 'INTERNAL',
    503: 'UNAVAILABLE',
  }[status];
}

/** One clause of a GCE list filter: `field = "v"`, `field != v`, `field eq "regex"`, `field ne "regex"`. */
interface Clause {
  path: string[];
  op: '=' | '!=' | 'eq' | 'ne';
  value: string;
}

/** Parses the AND of clauses, each optionally in parentheses; throws on anything else. */
export function parseFilter(filter: string): Clause[] {
  const clauses: Clause[] = [];
  const re =
    /\s*\(?\s*([a-zA-Z][\w.-]*)\s*(!=|=|\beq\b|\bne\b)\s*("(?:[^"\\]|\\.)*"|[^\s()]+)\s*\)?\s*(?:AND\s+|$)/y;
  let pos = 0;
  while (pos < filter.length) {
    re.lastIndex = pos;
    const m = re.exec(filter);
    if (!m || m[0].length === 0) throw new Error(`unparsable filter at ${pos}: ${filter}`);
    const raw = m[3]!;
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    clauses.push({ path: m[1]!.split('.'), op: m[2] as Clause['op'], value });
    pos = re.lastIndex;
  }
  return clauses;
}

function fieldOf(obj: Json, path: string[]): string | undefined {
  let cur: unknown = obj;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Json)[p];
  }
  return cur === undefined || cur === null ? undefined : String(cur);
}

function matches(obj: Json, clauses: Clause[]): boolean {
  return clauses.every((c) => {
    const v = fieldOf(obj, c.path);
    switch (c.op) {
      case '=':
        return v === c.value;
      case '!=':
        return v !== c.value;
      case 'eq':
        return v !== undefined && new RegExp(`^(?:${c.value})$`).test(v);
      case 'ne':
        return v === undefined || !new RegExp(`^(?:${c.value})$`).test(v);
    }
  });
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

export class FakeGce extends EventEmitter<FakeGceEvents> {
  readonly project: string;
  /** Every request, in order. */
  readonly requests: RecordedRequest[] = [];
  private readonly zoneStatus = new Map<string, string>();
  private readonly instancesByZone = new Map<string, Map<string, FakeInstance>>();
  private readonly operationsByZone = new Map<string, FakeOperation[]>();
  private readonly byRequestId = new Map<string, FakeOperation>();
  private readonly httpFaults = new Map<string, HttpFault[]>();
  private readonly opFaults = new Map<string, OperationFault[]>();
  private readonly hangs = new Map<string, number>();
  private readonly lags = new Map<string, number>();
  private readonly held = new Set<ServerResponse>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly waiters = new Set<() => void>();
  private outageMode: 'unavailable' | 'refused' | false = false;
  private nextId = 4_000_000_000_000_000_000n;
  private port = 0;
  private readonly server: Server;
  private readonly delays: Required<Omit<FakeGceOptions, 'project' | 'zones' | 'port'>>;

  constructor(private readonly opts: FakeGceOptions = {}) {
    super();
    this.project = opts.project ?? 'test-project';
    for (const z of opts.zones ?? [
      'us-central1-a',
      'us-central1-b',
      'us-central1-c',
      'us-central1-f',
      'us-east1-b',
      'us-east1-c',
      'us-east1-d',
      'europe-west4-a',
      'europe-west4-b',
      'europe-west4-c',
    ]) {
      this.zoneStatus.set(z, 'UP');
    }
    this.delays = {
      provisioningMs: opts.provisioningMs ?? 30,
      stagingMs: opts.stagingMs ?? 30,
      operationMs: opts.operationMs ?? 60,
      deleteMs: opts.deleteMs ?? 30,
      waitMaxMs: opts.waitMaxMs ?? 2000,
    };
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 1000;
  }

  /** http://127.0.0.1:port: the `endpoint` of a GCP provider config. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port || this.opts.port || 0, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  // ---- test controls -------------------------------------------------------------------

  /** Recorded requests of one call (and zone). */
  calls(rpc?: GceRpc, zone?: string): RecordedRequest[] {
    return this.requests.filter((r) => (!rpc || r.rpc === rpc) && (!zone || r.zone === zone));
  }

  /** Answers the next `times` calls of `rpc` (in `zone`) with an HTTP error. */
  failHttp(rpc: GceRpc, fault: HttpFault): void {
    this.httpFaults.set(rpc, [...(this.httpFaults.get(rpc) ?? []), { times: 1, ...fault }]);
  }

  /** Makes the next `times` operations of `rpc` (insert or delete) finish with this error. */
  failOperation(rpc: 'instances.insert' | 'instances.delete', fault: OperationFault): void {
    this.opFaults.set(rpc, [...(this.opFaults.get(rpc) ?? []), { times: 1, ...fault }]);
  }

  /** Never answers the next `times` calls of `rpc` (until close). */
  hang(rpc: GceRpc, times = Infinity): void {
    this.hangs.set(rpc, times);
  }

  /**
   * Answers every call of `rpc` `ms` later than it would (0: at once again), outage answers
   * included; what the answer is gets decided when the delay is over.
   */
  slow(rpc: GceRpc, ms: number): void {
    if (ms > 0) this.lags.set(rpc, ms);
    else this.lags.delete(rpc);
  }

  /** "unavailable": every call answers 503; "refused": the port closes; false: back to normal. */
  async outage(mode: 'unavailable' | 'refused' | false): Promise<void> {
    const was = this.outageMode;
    this.outageMode = mode;
    if (mode === 'refused' && was !== 'refused') {
      await new Promise<void>((r) => {
        this.server.close(() => r());
        this.server.closeAllConnections();
      });
    } else if (mode !== 'refused' && was === 'refused') {
      await this.listen();
    }
  }

  /** Sets a zone's status as zones.get reports it ("UP", "DOWN"). */
  setZoneStatus(zone: string, status: string): void {
    this.zoneStatus.set(zone, status);
  }

  instance(zone: string, name: string): FakeInstance | undefined {
    const i = this.zoneInstances(zone).get(name);
    return i && clone(i);
  }

  /** Every instance, in every zone. */
  instances(): FakeInstance[] {
    return [...this.instancesByZone.values()].flatMap((m) => [...m.values()].map(clone));
  }

  operations(zone: string): FakeOperation[] {
    return clone(this.zoneOperations(zone));
  }

  /** Puts an instance in place as if created earlier (by someone, with any labels). */
  putInstance(zone: string, instance: Partial<FakeInstance> & { name: string }): FakeInstance {
    const inst = this.newInstance(zone, {
      machineType: `zones/${zone}/machineTypes/n1-standard-4`,
      ...instance,
    });
    inst.status = instance.status ?? 'RUNNING';
    this.zoneInstances(zone).set(inst.name, inst);
    return clone(inst);
  }

  /** Sets an instance's status, as a stop, suspend or repair by GCE would. */
  setStatus(zone: string, name: string, status: string): void {
    const inst = this.mustFind(zone, name);
    const wasRunning = inst.status === 'RUNNING';
    inst.status = status;
    if (wasRunning && status !== 'RUNNING') this.emit('stopped', clone(inst), 'stopped');
  }

  /**
   * Preempts a spot instance as GCE does: a compute.instances.preempted operation in the zone, and
   * the instance deleted (termination action DELETE) or TERMINATED (STOP).
   */
  preempt(zone: string, name: string): void {
    const inst = this.mustFind(zone, name);
    if (inst.scheduling?.provisioningModel !== 'SPOT') throw new Error(`${name} is not a spot instance`);
    const op = this.newOperation(zone, 'compute.instances.preempted', inst);
    op.status = 'DONE';
    op.progress = 100;
    (op as Json).user = 'system';
    if (inst.scheduling.instanceTerminationAction === 'DELETE') this.zoneInstances(zone).delete(name);
    else inst.status = 'TERMINATED';
    this.emit('stopped', clone(inst), 'preempted');
  }

  /** Deletes an instance behind the client's back: no operation the client could see. */
  removeInstance(zone: string, name: string): void {
    const inst = this.mustFind(zone, name);
    this.zoneInstances(zone).delete(name);
    this.emit('stopped', clone(inst), 'removed');
  }

  /**
   * Calls `fn` with each request as it arrives, before the answer (an outage `fn` starts at once
   * already answers this request; one started in a later tick of the event loop does not).
   */
  onRequest(fn: (request: RecordedRequest) => void): this {
    return this.on('request', fn);
  }

  /** Calls `fn` for each instance that reaches RUNNING, with its startup-script. */
  onRunning(fn: (instance: FakeInstance, startupScript: string | undefined) => void): this {
    return this.on('running', fn);
  }

  /** Calls `fn` for each instance that stops running (deleted, preempted, removed, stopped). */
  onStopped(fn: (instance: FakeInstance, reason: StopReason) => void): this {
    return this.on('stopped', fn);
  }

  /** Forgets everything: instances, operations, faults, recorded requests; zones back UP. */
  reset(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.instancesByZone.clear();
    this.operationsByZone.clear();
    this.byRequestId.clear();
    this.httpFaults.clear();
    this.opFaults.clear();
    this.hangs.clear();
    this.lags.clear();
    this.requests.length = 0;
    for (const z of this.zoneStatus.keys()) this.zoneStatus.set(z, 'UP');
  }

  async close(): Promise<void> {
    this.reset();
    for (const w of this.waiters) w();
    for (const r of this.held) r.destroy();
    this.held.clear();
    this.removeAllListeners();
    if (this.outageMode === 'refused') return;
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }

  // ---- state ---------------------------------------------------------------------------

  private zoneInstances(zone: string): Map<string, FakeInstance> {
    let m = this.instancesByZone.get(zone);
    if (!m) this.instancesByZone.set(zone, (m = new Map()));
    return m;
  }

  private zoneOperations(zone: string): FakeOperation[] {
    let l = this.operationsByZone.get(zone);
    if (!l) this.operationsByZone.set(zone, (l = []));
    return l;
  }

  private mustFind(zone: string, name: string): FakeInstance {
    const inst = this.zoneInstances(zone).get(name);
    if (!inst) throw new Error(`no instance ${name} in ${zone}`);
    return inst;
  }

  private id(): string {
    return String(this.nextId++);
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
      this.notify();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private zoneUrl(zone: string): string {
    return `${BASE}/projects/${this.project}/zones/${zone}`;
  }

  /** A relative resource path ("zones/z/machineTypes/x") as GCE returns it: a full URL. */
  private url(path: unknown): unknown {
    if (typeof path !== 'string' || path.startsWith('https://')) return path;
    return path.startsWith('projects/') ? `${BASE}/${path}` : `${BASE}/projects/${this.project}/${path}`;
  }

  private newOperation(zone: string, type: string, target: { name: string; id?: string }): FakeOperation {
    const op: FakeOperation = {
      kind: 'compute#operation',
      id: this.id(),
      name: `operation-${Date.now()}-${Math.random().toString(16).slice(2, 10)}`,
      zone: this.zoneUrl(zone),
      operationType: type,
      targetLink: `${this.zoneUrl(zone)}/instances/${target.name}`,
      targetId: target.id ?? this.id(),
      status: 'PENDING',
      progress: 0,
      insertTime: new Date().toISOString(),
      user: 'driftless-test@example.com',
      selfLink: '',
    };
    op.selfLink = `${this.zoneUrl(zone)}/operations/${op.name}`;
    this.zoneOperations(zone).push(op);
    return op;
  }

  private finish(op: FakeOperation, fault?: OperationFault): void {
    op.status = 'DONE';
    op.progress = 100;
    (op as Json).endTime = new Date().toISOString();
    if (fault) {
      const http =
        fault.httpStatus ?? (CAPACITY_CODES.has(fault.code) ? 503 : /QUOTA/.test(fault.code) ? 403 : 400);
      op.error = {
        errors: [
          {
            code: fault.code,
            message: fault.message ?? `${fault.code} in ${lastOf(op.zone)}`,
            ...(fault.quotaInfo ? { errorDetails: [{ quotaInfo: fault.quotaInfo }] } : {}),
          },
        ],
      };
      op.httpErrorStatusCode = http;
      op.httpErrorMessage = http === 503 ? 'SERVICE UNAVAILABLE' : http === 403 ? 'FORBIDDEN' : 'BAD REQUEST';
    }
  }

  private takeFault<T extends { zone?: string; times?: number }>(
    faults: Map<string, T[]>,
    rpc: string,
    zone?: string,
  ): T | undefined {
    const list = faults.get(rpc) ?? [];
    const f = list.find((x) => (x.times ?? 1) > 0 && (!x.zone || x.zone === zone));
    if (f) f.times = (f.times ?? 1) - 1;
    return f;
  }

  private newInstance(zone: string, body: Json): FakeInstance {
    const name = String(body.name);
    const id = this.id();
    const lastOctet = (Number(BigInt(id) % 250n) + 2).toString();
    const nics = (Array.isArray(body.networkInterfaces) ? body.networkInterfaces : [{}]) as Json[];
    return {
      ...clone(body),
      kind: 'compute#instance',
      id,
      name,
      zone: this.zoneUrl(zone),
      machineType: this.url(body.machineType),
      status: 'PROVISIONING',
      creationTimestamp: new Date().toISOString(),
      selfLink: `${this.zoneUrl(zone)}/instances/${name}`,
      labelFingerprint: 'fp',
      guestAccelerators: ((body.guestAccelerators ?? []) as Json[]).map((a) => ({
        ...a,
        acceleratorType: this.url(a.acceleratorType),
      })),
      networkInterfaces: nics.map((n, i) => ({
        kind: 'compute#networkInterface',
        name: `nic${i}`,
        network: this.url(n.network ?? 'global/networks/default'),
        networkIP: `10.128.0.${lastOctet}`,
        accessConfigs: ((n.accessConfigs ?? []) as Json[]).map((a) => ({
          ...a,
          natIP: `34.1.0.${lastOctet}`,
        })),
      })),
      metadata: { kind: 'compute#metadata', fingerprint: 'fp', ...((body.metadata as Json) ?? {}) },
    } as FakeInstance;
  }

  // ---- HTTP ----------------------------------------------------------------------------

  private route(method: string, path: string): { rpc: GceRpc; params: string[] } | undefined {
    const routes: Array<[string, RegExp, GceRpc]> = [
      ['POST', /^\/compute\/v1\/projects\/([^/]+)\/zones\/([^/]+)\/instances$/, 'instances.insert'],
      ['GET', /^\/compute\/v1\/projects\/([^/]+)\/zones\/([^/]+)\/instances$/, 'instances.list'],
      ['GET', /^\/compute\/v1\/projects\/([^/]+)\/zones\/([^/]+)\/instances\/([^/]+)$/, 'instances.get'],
      [
        'DELETE',
        /^\/compute\/v1\/projects\/([^/]+)\/zones\/([^/]+)\/instances\/([^/]+)$/,
        'instances.delete',
      ],
      ['GET', /^\/compute\/v1\/projects\/([^/]+)\/aggregated\/instances$/, 'instances.aggregatedList'],
      ['GET', /^\/compute\/v1\/projects\/([^/]+)\/zones\/([^/]+)\/operations$/, 'zoneOperations.list'],
      [
        'GET',
        /^\/compute\/v1\/projects\/([^/]+)\/zones\/([^/]+)\/operations\/([^/]+)$/,
        'zoneOperations.get',
      ],
      [
        'POST',
        /^\/compute\/v1\/projects\/([^/]+)\/zones\/([^/]+)\/operations\/([^/]+)\/wait$/,
        'zoneOperations.wait',
      ],
      ['GET', /^\/compute\/v1\/projects\/([^/]+)\/zones\/([^/]+)$/, 'zones.get'],
      ['GET', /^\/compute\/v1\/projects\/([^/]+)\/zones$/, 'zones.list'],
    ];
    for (const [m, re, rpc] of routes) {
      const hit = method === m ? re.exec(path) : null;
      if (hit) return { rpc, params: hit.slice(1).map(decodeURIComponent) };
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://fake');
    const route = this.route(req.method ?? 'GET', url.pathname);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: Json | undefined;
    try {
      body = text ? (JSON.parse(text) as Json) : undefined;
    } catch {
      body = undefined;
    }
    const query = Object.fromEntries(url.searchParams);
    const zone = route?.rpc.startsWith('zones.') ? route.params[1] : route?.params[1];
    const rec: RecordedRequest = {
      rpc: route?.rpc ?? 'unknown',
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      zone: route?.rpc === 'instances.aggregatedList' || route?.rpc === 'zones.list' ? undefined : zone,
      requestId: query.requestId,
      body,
      authorization: req.headers.authorization,
    };
    this.requests.push(rec);
    this.emit('request', rec);

    const lag = route ? this.lags.get(route.rpc) : undefined;
    if (lag) await new Promise((r) => setTimeout(r, lag));
    if (this.outageMode === 'unavailable') {
      return this.sendError(res, { ...GCE_HTTP_ERRORS.backendError });
    }
    if (!route)
      return this.sendError(res, { status: 404, reason: 'notFound', message: `no route ${url.pathname}` });
    const hangs = this.hangs.get(route.rpc) ?? 0;
    if (hangs > 0) {
      this.hangs.set(route.rpc, hangs - 1);
      this.held.add(res);
      res.on('close', () => this.held.delete(res));
      return;
    }
    const fault = this.takeFault(this.httpFaults, route.rpc, rec.zone);
    if (fault) return this.sendError(res, fault, route.params);
    try {
      const [project] = route.params;
      if (project !== this.project) {
        throw new HttpError(404, 'notFound', `The resource 'projects/${project}' was not found`);
      }
      if (rec.zone !== undefined && !this.zoneStatus.has(rec.zone)) {
        throw new HttpError(400, 'invalid', `Invalid value for field 'zone': '${rec.zone}'. Unknown zone.`);
      }
      const answer = await this.answer(route.rpc, route.params, query, body ?? {});
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify(answer));
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      this.sendError(res, { status: err.status, reason: err.reason, message: err.message });
    }
  }

  private sendError(res: ServerResponse, f: HttpFault, params: string[] = []): void {
    if (f.rawBody !== undefined) {
      res.writeHead(f.status, { 'content-type': 'text/html; charset=UTF-8' });
      res.end(f.rawBody);
      return;
    }
    const [project = this.project, zone = '', name = ''] = params;
    const target = `projects/${project}/zones/${zone}/instances/${name}`;
    const message = (f.message ?? f.reason).replace('{target}', target).replace('{zone}', zone);
    const error: Json = {
      code: f.status,
      message,
      errors: [{ message, domain: domainOf(f.reason), reason: f.reason }],
    };
    if (f.errorInfo) {
      error.status = grpcStatusOf(f.status);
      error.details = [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: f.reason,
          domain: 'compute.googleapis.com',
        },
      ];
    }
    res.writeHead(f.status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify({ error }));
  }

  private async answer(
    rpc: GceRpc,
    params: string[],
    query: Record<string, string>,
    body: Json,
  ): Promise<Json> {
    const [, zone = '', name = ''] = params;
    switch (rpc) {
      case 'instances.insert':
        return this.insert(zone, query.requestId, body);
      case 'instances.get': {
        const inst = this.zoneInstances(zone).get(name);
        if (!inst) throw this.notFound(zone, name);
        return inst;
      }
      case 'instances.delete':
        return this.delete(zone, name, query.requestId);
      case 'instances.list': {
        const clauses = this.filter(query.filter);
        return {
          kind: 'compute#instanceList',
          id: `projects/${this.project}/zones/${zone}/instances`,
          items: [...this.zoneInstances(zone).values()].filter((i) => matches(i, clauses)),
          selfLink: `${this.zoneUrl(zone)}/instances`,
        };
      }
      case 'instances.aggregatedList': {
        const clauses = this.filter(query.filter);
        const items: Json = {};
        for (const z of this.zoneStatus.keys()) {
          const found = [...this.zoneInstances(z).values()].filter((i) => matches(i, clauses));
          items[`zones/${z}`] = found.length
            ? { instances: found }
            : {
                warning: {
                  code: 'NO_RESULTS_ON_PAGE',
                  message: `There are no results for scope 'zones/${z}' on this page.`,
                  data: [{ key: 'scope', value: `zones/${z}` }],
                },
              };
        }
        return {
          kind: 'compute#instanceAggregatedList',
          id: `projects/${this.project}/aggregated/instances`,
          items,
          selfLink: `${BASE}/projects/${this.project}/aggregated/instances`,
        };
      }
      case 'zoneOperations.get':
        return this.operation(zone, name);
      case 'zoneOperations.wait': {
        const op = this.operation(zone, name);
        const until = Date.now() + this.delays.waitMaxMs;
        while (op.status !== 'DONE' && Date.now() < until) {
          await new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(t);
              this.waiters.delete(done);
              resolve();
            };
            const t = setTimeout(done, Math.max(1, until - Date.now()));
            this.waiters.add(done);
          });
        }
        return op;
      }
      case 'zoneOperations.list': {
        const clauses = this.filter(query.filter);
        return {
          kind: 'compute#operationList',
          id: `projects/${this.project}/zones/${zone}/operations`,
          items: this.zoneOperations(zone).filter((o) => matches(o, clauses)),
          selfLink: `${this.zoneUrl(zone)}/operations`,
        };
      }
      case 'zones.get':
        return this.zone(zone);
      case 'zones.list':
        return {
          kind: 'compute#zoneList',
          id: `projects/${this.project}/zones`,
          items: [...this.zoneStatus.keys()].map((z) => this.zone(z)),
          selfLink: `${BASE}/projects/${this.project}/zones`,
        };
    }
  }

  private filter(filter: string | undefined): Clause[] {
    try {
      return filter ? parseFilter(filter) : [];
    } catch (err) {
      throw new HttpError(
        400,
        'invalid',
        `Invalid value for field 'filter': '${filter}'. ${(err as Error).message}`,
      );
    }
  }

  private notFound(zone: string, name: string): HttpError {
    return new HttpError(
      404,
      'notFound',
      `The resource 'projects/${this.project}/zones/${zone}/instances/${name}' was not found`,
    );
  }

  private operation(zone: string, name: string): FakeOperation {
    const op = this.zoneOperations(zone).find((o) => o.name === name);
    if (!op) {
      throw new HttpError(
        404,
        'notFound',
        `The resource 'projects/${this.project}/zones/${zone}/operations/${name}' was not found`,
      );
    }
    return op;
  }

  private zone(zone: string): Json {
    const region = zone.replace(/-[a-z]$/, '');
    return {
      kind: 'compute#zone',
      id: String(2000 + [...this.zoneStatus.keys()].indexOf(zone)),
      name: zone,
      description: zone,
      status: this.zoneStatus.get(zone),
      region: `${BASE}/projects/${this.project}/regions/${region}`,
      selfLink: this.zoneUrl(zone),
      availableCpuPlatforms: ['Intel Cascade Lake'],
      supportsPzs: false,
    };
  }

  private validate(body: Json): void {
    const name = body.name;
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new HttpError(
        400,
        'invalid',
        `Invalid value for field 'resource.name': '${String(name)}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'`,
      );
    }
    if (typeof body.machineType !== 'string') {
      throw new HttpError(400, 'invalid', "Invalid value for field 'resource.machineType': ''. Required.");
    }
    for (const [k, v] of Object.entries((body.labels ?? {}) as Record<string, string>)) {
      if (!LABEL_KEY.test(k) || !LABEL_VALUE.test(v)) {
        throw new HttpError(400, 'invalid', `Invalid value for field 'resource.labels': '${k}=${v}'.`);
      }
    }
    const sched = (body.scheduling ?? {}) as Json;
    if (((body.guestAccelerators ?? []) as unknown[]).length > 0 && sched.onHostMaintenance !== 'TERMINATE') {
      throw new HttpError(
        400,
        'invalid',
        "Invalid value for field 'resource.scheduling.onHostMaintenance': 'MIGRATE'. Instances with guest accelerators do not support live migration.",
      );
    }
  }

  private insert(zone: string, requestId: string | undefined, body: Json): FakeOperation {
    const again = requestId ? this.byRequestId.get(`insert/${zone}/${requestId}`) : undefined;
    if (again) return again;
    this.validate(body);
    const name = body.name as string;
    if (this.zoneInstances(zone).has(name)) {
      throw new HttpError(
        409,
        'alreadyExists',
        `The resource 'projects/${this.project}/zones/${zone}/instances/${name}' already exists`,
      );
    }
    const fault = this.takeFault(this.opFaults, 'instances.insert', zone);
    const inst = fault ? undefined : this.newInstance(zone, body);
    const op = this.newOperation(zone, 'insert', inst ?? { name });
    if (requestId) this.byRequestId.set(`insert/${zone}/${requestId}`, op);
    const { provisioningMs, stagingMs, operationMs } = this.delays;
    if (!inst) {
      op.status = 'RUNNING';
      this.later(operationMs, () => this.finish(op, fault));
      return clone(op);
    }
    this.zoneInstances(zone).set(name, inst);
    op.status = 'RUNNING';
    op.progress = 10;
    this.later(operationMs, () => this.finish(op));
    this.later(provisioningMs, () => {
      if (inst.status === 'PROVISIONING') inst.status = 'STAGING';
    });
    this.later(provisioningMs + stagingMs, () => {
      if (inst.status !== 'STAGING' || this.zoneInstances(zone).get(name) !== inst) return;
      inst.status = 'RUNNING';
      (inst as Json).lastStartTimestamp = new Date().toISOString();
      const script = inst.metadata?.items?.find((m) => m.key === 'startup-script')?.value;
      this.emit('running', clone(inst), script);
    });
    return clone(op);
  }

  private delete(zone: string, name: string, requestId: string | undefined): FakeOperation {
    const again = requestId ? this.byRequestId.get(`delete/${zone}/${requestId}`) : undefined;
    if (again) return again;
    const inst = this.zoneInstances(zone).get(name);
    if (!inst) throw this.notFound(zone, name);
    const fault = this.takeFault(this.opFaults, 'instances.delete', zone);
    const op = this.newOperation(zone, 'delete', inst);
    op.status = 'RUNNING';
    if (requestId) this.byRequestId.set(`delete/${zone}/${requestId}`, op);
    if (fault) {
      this.later(this.delays.deleteMs, () => this.finish(op, fault));
      return clone(op);
    }
    const wasRunning = inst.status === 'RUNNING';
    inst.status = 'STOPPING';
    if (wasRunning) this.emit('stopped', clone(inst), 'deleted');
    this.later(this.delays.deleteMs, () => {
      if (this.zoneInstances(zone).get(name) === inst) this.zoneInstances(zone).delete(name);
      this.finish(op);
    });
    return clone(op);
  }
}

function lastOf(url: string): string {
  return url.split('/').pop() ?? url;
}

/** Starts a fake Compute Engine on 127.0.0.1 (a free port unless one is given). */
export async function startFakeGce(opts: FakeGceOptions = {}): Promise<FakeGce> {
  const fake = new FakeGce(opts);
  await fake.listen();
  return fake;
}
