/**
 * A fake Compute Engine on loopback, speaking the REST paths and JSON shapes that
 * @google-cloud/compute (6.x, google-gax REST transport) uses:
 *
 *   POST   /compute/v1/projects/{project}/zones/{zone}/instances?requestId=      instances.insert
 *   GET    /compute/v1/projects/{project}/zones/{zone}/instances/{instance}      instances.get
 *   DELETE /compute/v1/projects/{project}/zones/{zone}/instances/{instance}?requestId=  instances.delete
 *   GET    /compute/v1/projects/{project}/zones/{zone}/instances?filter=&maxResults=&pageToken=
 *   GET    /compute/v1/projects/{project}/aggregated/instances?filter=&returnPartialSuccess=&pageToken=
 *   GET    /compute/v1/projects/{project}/zones/{zone}/operations/{operation}    zoneOperations.get
 *   POST   /compute/v1/projects/{project}/zones/{zone}/operations/{operation}/wait
 *   GET    /compute/v1/projects/{project}/zones/{zone}/operations?filter=&pageToken=
 *   GET    /compute/v1/projects/{project}/zones/{zone}                           zones.get
 *   GET    /compute/v1/projects/{project}/zones?pageToken=                       zones.list
 *
 * It is meant to be as strict as Compute Engine where a client can get it wrong; each rule cites
 * the documented behaviour it models, beside the code. In short: instances move PROVISIONING ->
 * STAGING -> RUNNING and can only be deleted once past STAGING; a delete and a preemption pass
 * through STOPPING; a requestId must be a UUID and is remembered for a while, not forever; DONE
 * operations expire; wait may answer before an operation is DONE; lists come in pages; a DOWN
 * zone creates nothing. Faults can be injected as an HTTP answer (Google's error JSON, before the
 * call takes effect or after it, so that an answer is lost), inside a finished operation, as an
 * operation that does not finish, or as an outage. It tells listeners when an instance starts
 * running (with its startup-script) and when it stops, so that an end-to-end test can play each VM
 * as a local process. It logs nothing.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CAPACITY_CODES,
  GCE_HTTP_ERRORS,
  HttpError,
  domainOf,
  grpcStatusOf,
  operationErrorText,
  type HttpFault,
  type OperationFault,
} from './gcp-server/errors';
import { matches, parseFilter, type Clause } from './gcp-server/filter';
import { byName, pageOf } from './gcp-server/paging';
import type {
  FakeGceEvents,
  FakeGceOptions,
  FakeInstance,
  FakeOperation,
  GceRpc,
  Json,
  RecordedRequest,
  StopReason,
} from './gcp-server/types';

export {
  GCE_HTTP_ERRORS,
  operationErrorText,
  type HttpFault,
  type OperationFault,
} from './gcp-server/errors';
export { parseFilter } from './gcp-server/filter';
export type {
  FakeGceEvents,
  FakeGceOptions,
  FakeInstance,
  FakeOperation,
  GceRpc,
  RecordedRequest,
  StopReason,
} from './gcp-server/types';

const BASE = 'https://www.googleapis.com/compute/v1';
const NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Statuses in which GCE refuses a delete with resourceNotReady (see {@link FakeGce.delete}). */
const NOT_READY = new Set(['PROVISIONING', 'STAGING']);

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function lastOf(url: string): string {
  return url.split('/').pop() ?? url;
}

type Delays = Required<Omit<FakeGceOptions, 'project' | 'zones' | 'port'>>;

export class FakeGce extends EventEmitter<FakeGceEvents> {
  readonly project: string;
  /** Every request, in order. */
  readonly requests: RecordedRequest[] = [];
  private readonly zoneStatus = new Map<string, string>();
  private readonly instancesByZone = new Map<string, Map<string, FakeInstance>>();
  private readonly operationsByZone = new Map<string, FakeOperation[]>();
  private readonly byRequestId = new Map<string, { op: FakeOperation; at: number }>();
  private readonly httpFaults = new Map<string, HttpFault[]>();
  private readonly opFaults = new Map<string, OperationFault[]>();
  private readonly lostAnswers = new Map<string, Array<{ times: number; zone?: string }>>();
  private readonly heldOperations = new Map<string, number>();
  private readonly held$ = new Set<() => void>();
  private readonly waitCount = new Map<string, number>();
  private readonly hangs = new Map<string, number>();
  private readonly lags = new Map<string, number>();
  private readonly held = new Set<ServerResponse>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly waiters = new Set<() => void>();
  private outageMode: 'unavailable' | 'refused' | false = false;
  private nextId = 4_000_000_000_000_000_000n;
  private port = 0;
  private readonly server: Server;
  private readonly delays: Delays;

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
      preemptMs: opts.preemptMs ?? 30,
      waitMaxMs: opts.waitMaxMs ?? 2000,
      earlyWaits: opts.earlyWaits ?? 1,
      requestIdRetentionMs: opts.requestIdRetentionMs ?? 3_600_000,
      operationRetentionMs: opts.operationRetentionMs ?? 3_600_000,
      maxPageSize: opts.maxPageSize ?? 500,
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

  /**
   * Answers the next `times` calls of `rpc` (in `zone`) with an HTTP error: before the call takes
   * effect, or, with `afterDoing`, once it has (the answer lost, an error seen instead).
   */
  failHttp(rpc: GceRpc, fault: HttpFault): void {
    this.httpFaults.set(rpc, [...(this.httpFaults.get(rpc) ?? []), { times: 1, ...fault }]);
  }

  /**
   * Carries out the next `times` calls of `rpc` (in `zone`) and then drops the connection instead
   * of answering: the insert (or delete) happened, the client saw its socket close.
   */
  loseAnswer(rpc: GceRpc, times = 1, zone?: string): void {
    this.lostAnswers.set(rpc, [...(this.lostAnswers.get(rpc) ?? []), { times, zone }]);
  }

  /** Makes the next `times` operations of `rpc` (insert or delete) finish with this error. */
  failOperation(rpc: 'instances.insert' | 'instances.delete', fault: OperationFault): void {
    this.opFaults.set(rpc, [...(this.opFaults.get(rpc) ?? []), { times: 1, ...fault }]);
  }

  /**
   * The next `times` operations of `rpc` do not finish (they stay RUNNING; an insert's instance
   * still boots, a delete's instance stays STOPPING) until {@link releaseOperations}.
   */
  holdOperations(rpc: 'instances.insert' | 'instances.delete', times = 1): void {
    this.heldOperations.set(rpc, (this.heldOperations.get(rpc) ?? 0) + times);
  }

  /** Lets every held operation finish now. */
  releaseOperations(): void {
    const held = [...this.held$];
    this.held$.clear();
    for (const finish of held) finish();
    this.notify();
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

  /** Sets a zone's status as zones.get reports it ("UP", "DOWN"); a DOWN zone creates nothing. */
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

  /** The zone's operations GCE still keeps (expired ones are gone). */
  operations(zone: string): FakeOperation[] {
    return clone(this.zoneOperations(zone));
  }

  /** Puts an instance in place as if created earlier (by someone, with any labels, at any time). */
  putInstance(zone: string, instance: Partial<FakeInstance> & { name: string }): FakeInstance {
    const inst = this.newInstance(zone, {
      machineType: `zones/${zone}/machineTypes/n1-standard-4`,
      ...instance,
    });
    inst.status = instance.status ?? 'RUNNING';
    if (typeof instance.creationTimestamp === 'string') inst.creationTimestamp = instance.creationTimestamp;
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
   * Preempts a spot instance as GCE does: "Compute Engine sends a preemption notice to the VM in
   * the form of an ACPI G2 Soft Off signal ... If the VM does not stop after 30 seconds, Compute
   * Engine sends an ACPI G3 Mechanical Off signal ... Compute Engine transitions the VM to a
   * TERMINATED state" (compute/docs/instances/spot, "Preemption process"); with
   * instanceTerminationAction DELETE "Compute Engine deletes the Spot VM on preemption". So: a
   * compute.instances.preempted operation, the instance STOPPING for `preemptMs` (the VM told to
   * stop at once), then TERMINATED (STOP) or gone (DELETE) and the operation DONE.
   */
  preempt(zone: string, name: string): void {
    const inst = this.mustFind(zone, name);
    if (inst.scheduling?.provisioningModel !== 'SPOT') throw new Error(`${name} is not a spot instance`);
    const op = this.newOperation(zone, 'compute.instances.preempted', inst);
    op.status = 'RUNNING';
    (op as Json).user = 'system';
    inst.status = 'STOPPING';
    this.emit('stopped', clone(inst), 'preempted');
    this.later(this.delays.preemptMs, () => {
      if (this.zoneInstances(zone).get(name) === inst) {
        if (inst.scheduling?.instanceTerminationAction === 'DELETE') this.zoneInstances(zone).delete(name);
        else inst.status = 'TERMINATED';
      }
      this.finish(op);
    });
  }

  /** Deletes an instance behind the client's back: no operation the client could see. */
  removeInstance(zone: string, name: string): void {
    const inst = this.mustFind(zone, name);
    this.zoneInstances(zone).delete(name);
    this.emit('stopped', clone(inst), 'removed');
  }

  /** Forgets every requestId now, as GCE may once its retention is over. */
  forgetRequestIds(): void {
    this.byRequestId.clear();
  }

  /** Expires every DONE operation now, as GCE does once they are old enough. */
  expireOperations(): void {
    for (const [zone, ops] of this.operationsByZone) {
      this.operationsByZone.set(
        zone,
        ops.filter((o) => o.status !== 'DONE'),
      );
    }
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
    this.lostAnswers.clear();
    this.heldOperations.clear();
    this.held$.clear();
    this.waitCount.clear();
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

  /**
   * The zone's operations, DONE ones past their retention dropped. GCE keeps operations for a
   * while, not forever (zoneOperations.get of an old one is 404; the retention is not documented,
   * hence an option).
   */
  private zoneOperations(zone: string): FakeOperation[] {
    let l = this.operationsByZone.get(zone);
    if (!l) this.operationsByZone.set(zone, (l = []));
    const oldest = Date.now() - this.delays.operationRetentionMs;
    if (l.some((o) => o.status === 'DONE' && Date.parse(String(o.endTime)) < oldest)) {
      l = l.filter((o) => o.status !== 'DONE' || Date.parse(String(o.endTime)) >= oldest);
      this.operationsByZone.set(zone, l);
    }
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

  /** "projects/p/zones/z", as GCE names a zone in its messages. */
  private zonePath(zone: string): string {
    return `projects/${this.project}/zones/${zone}`;
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

  /** Runs `finish` after `ms`, or holds it when the rpc's operations are held. */
  private finishLater(rpc: 'instances.insert' | 'instances.delete', ms: number, finish: () => void): void {
    const holds = this.heldOperations.get(rpc) ?? 0;
    if (holds > 0) {
      this.heldOperations.set(rpc, holds - 1);
      this.held$.add(finish);
      return;
    }
    this.later(ms, finish);
  }

  private finish(op: FakeOperation, fault?: OperationFault): void {
    op.status = 'DONE';
    op.progress = 100;
    (op as Json).endTime = new Date().toISOString();
    if (fault) {
      const http =
        fault.httpStatus ?? (CAPACITY_CODES.has(fault.code) ? 503 : /QUOTA/.test(fault.code) ? 403 : 400);
      const zone = lastOf(op.zone);
      const target = `${this.zonePath(zone)}/instances/${lastOf(op.targetLink)}`;
      op.error = {
        errors: [
          {
            code: fault.code,
            message: fault.message ?? operationErrorText(fault.code, this.zonePath(zone), target),
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
    const p = '^/compute/v1/projects/([^/]+)';
    const routes: Array<[string, RegExp, GceRpc]> = [
      ['POST', new RegExp(`${p}/zones/([^/]+)/instances$`), 'instances.insert'],
      ['GET', new RegExp(`${p}/zones/([^/]+)/instances$`), 'instances.list'],
      ['GET', new RegExp(`${p}/zones/([^/]+)/instances/([^/]+)$`), 'instances.get'],
      ['DELETE', new RegExp(`${p}/zones/([^/]+)/instances/([^/]+)$`), 'instances.delete'],
      ['GET', new RegExp(`${p}/aggregated/instances$`), 'instances.aggregatedList'],
      ['GET', new RegExp(`${p}/zones/([^/]+)/operations$`), 'zoneOperations.list'],
      ['GET', new RegExp(`${p}/zones/([^/]+)/operations/([^/]+)$`), 'zoneOperations.get'],
      ['POST', new RegExp(`${p}/zones/([^/]+)/operations/([^/]+)/wait$`), 'zoneOperations.wait'],
      ['GET', new RegExp(`${p}/zones/([^/]+)$`), 'zones.get'],
      ['GET', new RegExp(`${p}/zones$`), 'zones.list'],
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
    const zone = route?.params[1];
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
    if (fault && !fault.afterDoing) return this.sendError(res, fault, route.params);
    let answer: Json;
    try {
      const [project] = route.params;
      if (project !== this.project) {
        throw new HttpError(404, 'notFound', `The resource 'projects/${project}' was not found`);
      }
      if (rec.zone !== undefined && !this.zoneStatus.has(rec.zone)) {
        throw new HttpError(400, 'invalid', `Invalid value for field 'zone': '${rec.zone}'. Unknown zone.`);
      }
      answer = await this.answer(route.rpc, route.params, query, body ?? {});
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      if (fault) return this.sendError(res, fault, route.params);
      return this.sendError(res, { status: err.status, reason: err.reason, message: err.message });
    }
    // The call took effect; its answer is lost on the way back.
    if (fault) return this.sendError(res, fault, route.params);
    if (this.takeFault(this.lostAnswers, route.rpc, rec.zone)) {
      res.socket?.destroy();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(answer));
  }

  private sendError(res: ServerResponse, f: HttpFault, params: string[] = []): void {
    if (f.rawBody !== undefined) {
      res.writeHead(f.status, { 'content-type': 'text/html; charset=UTF-8' });
      res.end(f.rawBody);
      return;
    }
    const [project = this.project, zone = '', name = ''] = params;
    const target = `projects/${project}/zones/${zone}/instances/${name}`;
    const message = (f.message ?? f.reason)
      .replace('{target}', target)
      .replace('{zone}', `projects/${project}/zones/${zone}`);
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
        return this.insert(zone, this.requestId(query.requestId), body);
      case 'instances.get': {
        const inst = this.zoneInstances(zone).get(name);
        if (!inst) throw this.notFound(zone, name);
        return inst;
      }
      case 'instances.delete':
        return this.delete(zone, name, this.requestId(query.requestId));
      case 'instances.list': {
        const clauses = this.filter(query.filter);
        const found = byName([...this.zoneInstances(zone).values()].filter((i) => matches(i, clauses)));
        const page = pageOf(found, query, this.delays.maxPageSize, `instances/${zone}`);
        return {
          kind: 'compute#instanceList',
          id: `projects/${this.project}/zones/${zone}/instances`,
          items: page.items,
          ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
          selfLink: `${this.zoneUrl(zone)}/instances`,
        };
      }
      case 'instances.aggregatedList':
        return this.aggregatedList(query);
      case 'zoneOperations.get':
        return this.operation(zone, name);
      case 'zoneOperations.wait':
        return this.waitOperation(zone, name);
      case 'zoneOperations.list': {
        const clauses = this.filter(query.filter);
        const found = byName(this.zoneOperations(zone).filter((o) => matches(o, clauses)));
        const page = pageOf(found, query, this.delays.maxPageSize, `operations/${zone}`);
        return {
          kind: 'compute#operationList',
          id: `projects/${this.project}/zones/${zone}/operations`,
          items: page.items,
          ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
          selfLink: `${this.zoneUrl(zone)}/operations`,
        };
      }
      case 'zones.get':
        return this.zone(zone);
      case 'zones.list': {
        const page = pageOf([...this.zoneStatus.keys()].sort(), query, this.delays.maxPageSize, 'zones');
        return {
          kind: 'compute#zoneList',
          id: `projects/${this.project}/zones`,
          items: page.items.map((z) => this.zone(z)),
          ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
          selfLink: `${BASE}/projects/${this.project}/zones`,
        };
      }
    }
  }

  /**
   * instances.aggregatedList, paged over the instances of every zone (in zone, then name order);
   * a page names only the zones of its instances, and a list with nothing in it names every zone
   * with GCE's NO_RESULTS_ON_PAGE warning.
   */
  private aggregatedList(query: Record<string, string>): Json {
    const clauses = this.filter(query.filter);
    const all = [...this.zoneStatus.keys()].sort().flatMap((z) =>
      byName([...this.zoneInstances(z).values()].filter((i) => matches(i, clauses))).map((i) => ({
        zone: z,
        instance: i,
      })),
    );
    const page = pageOf(all, query, this.delays.maxPageSize, 'aggregated/instances');
    const items: Json = {};
    for (const { zone, instance } of page.items) {
      const scope = (items[`zones/${zone}`] ??= { instances: [] }) as { instances: FakeInstance[] };
      scope.instances.push(instance);
    }
    if (all.length === 0) {
      for (const z of this.zoneStatus.keys()) {
        items[`zones/${z}`] = {
          warning: {
            code: 'NO_RESULTS_ON_PAGE',
            message: `There are no results for scope 'zones/${z}' on this page.`,
            data: [{ key: 'scope', value: `zones/${z}` }],
          },
        };
      }
    }
    return {
      kind: 'compute#instanceAggregatedList',
      id: `projects/${this.project}/aggregated/instances`,
      items,
      ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
      selfLink: `${BASE}/projects/${this.project}/aggregated/instances`,
    };
  }

  /**
   * zoneOperations.wait: "Waits for the specified Operation resource to return as DONE or for the
   * request to approach the 2 minute deadline ... This method is called on a best-effort basis ...
   * the request might return before the default deadline is reached, or might return after zero
   * seconds ... Be prepared to retry if the operation is not DONE" (compute/docs/reference/rest/v1/
   * zoneOperations/wait). The first `earlyWaits` waits of each operation answer at once; later ones
   * hold for at most `waitMaxMs`.
   */
  private async waitOperation(zone: string, name: string): Promise<FakeOperation> {
    const op = this.operation(zone, name);
    const seen = this.waitCount.get(op.name) ?? 0;
    this.waitCount.set(op.name, seen + 1);
    if (seen < this.delays.earlyWaits) return op;
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

  /**
   * A requestId as GCE takes it: "The request ID must be a valid UUID with the exception that zero
   * UUID is not supported (00000000-0000-0000-0000-000000000000)" (requestId of instances.insert
   * and instances.delete, compute/docs/reference/rest/v1/instances/insert).
   */
  private requestId(requestId: string | undefined): string | undefined {
    if (requestId === undefined || requestId === '') return undefined;
    if (!UUID.test(requestId) || /^[0-]+$/.test(requestId)) {
      throw new HttpError(
        400,
        'invalid',
        `Invalid value for field 'requestId': '${requestId}'. The request ID must be a valid UUID with the exception that zero UUID is not supported (00000000-0000-0000-0000-000000000000).`,
      );
    }
    return requestId.toLowerCase();
  }

  /**
   * The operation of an earlier request with this id: "If you make the request again with the same
   * request ID, the server can check if original operation with the same request ID was received,
   * and if so, will ignore the second request" (requestId, compute/docs/reference/rest/v1/instances/
   * insert). How long is not promised there; Google's APIs that state it promise "at least 60
   * minutes since the first request". After `requestIdRetentionMs` the id is forgotten and a
   * repeat is a new request.
   */
  private repeated(key: string | undefined): FakeOperation | undefined {
    if (!key) return undefined;
    const seen = this.byRequestId.get(key);
    if (seen && Date.now() - seen.at < this.delays.requestIdRetentionMs) return seen.op;
    this.byRequestId.delete(key);
    return undefined;
  }

  private remember(key: string | undefined, op: FakeOperation): void {
    if (key) this.byRequestId.set(key, { op, at: Date.now() });
  }

  private notFound(zone: string, name: string): HttpError {
    return new HttpError(
      404,
      'notFound',
      `The resource '${this.zonePath(zone)}/instances/${name}' was not found`,
    );
  }

  private operation(zone: string, name: string): FakeOperation {
    const op = this.zoneOperations(zone).find((o) => o.name === name);
    if (!op) {
      throw new HttpError(
        404,
        'notFound',
        `The resource '${this.zonePath(zone)}/operations/${name}' was not found`,
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
    const key = requestId && `insert/${zone}/${requestId}`;
    const again = this.repeated(key);
    if (again) return again;
    this.validate(body);
    const name = body.name as string;
    if (this.zoneInstances(zone).has(name)) {
      throw new HttpError(
        409,
        'alreadyExists',
        `The resource '${this.zonePath(zone)}/instances/${name}' already exists`,
      );
    }
    // A DOWN zone (zones.get status) creates nothing. GCE documents no insert answer for it; the
    // operation fails as a zone without resources does, which is what a client can act on.
    const down: OperationFault | undefined =
      this.zoneStatus.get(zone) === 'DOWN' ? { code: 'ZONE_RESOURCE_POOL_EXHAUSTED' } : undefined;
    const fault = down ?? this.takeFault(this.opFaults, 'instances.insert', zone);
    const inst = fault ? undefined : this.newInstance(zone, body);
    const op = this.newOperation(zone, 'insert', inst ?? { name });
    this.remember(key, op);
    const { provisioningMs, stagingMs, operationMs } = this.delays;
    op.status = 'RUNNING';
    if (!inst) {
      this.finishLater('instances.insert', operationMs, () => this.finish(op, fault));
      return clone(op);
    }
    this.zoneInstances(zone).set(name, inst);
    op.progress = 10;
    this.finishLater('instances.insert', operationMs, () => this.finish(op));
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

  /**
   * instances.delete. An instance still PROVISIONING or STAGING cannot be deleted yet: GCE answers
   * 400 "The resource '...' is not ready" (reason resourceNotReady), as client reports of deletes
   * right after a create show (googleapis/google-api-python-client#485,
   * googleapis/google-cloud-java#9312). Otherwise the instance is STOPPING for `deleteMs`, then gone.
   */
  private delete(zone: string, name: string, requestId: string | undefined): FakeOperation {
    const key = requestId && `delete/${zone}/${requestId}`;
    const again = this.repeated(key);
    if (again) return again;
    const inst = this.zoneInstances(zone).get(name);
    if (!inst) throw this.notFound(zone, name);
    if (NOT_READY.has(inst.status)) {
      throw new HttpError(
        400,
        'resourceNotReady',
        `The resource '${this.zonePath(zone)}/instances/${name}' is not ready`,
      );
    }
    const fault = this.takeFault(this.opFaults, 'instances.delete', zone);
    const op = this.newOperation(zone, 'delete', inst);
    op.status = 'RUNNING';
    this.remember(key, op);
    if (fault) {
      this.finishLater('instances.delete', this.delays.deleteMs, () => this.finish(op, fault));
      return clone(op);
    }
    const wasRunning = inst.status === 'RUNNING';
    inst.status = 'STOPPING';
    if (wasRunning) this.emit('stopped', clone(inst), 'deleted');
    this.finishLater('instances.delete', this.delays.deleteMs, () => {
      if (this.zoneInstances(zone).get(name) === inst) this.zoneInstances(zone).delete(name);
      this.finish(op);
    });
    return clone(op);
  }
}

/** Starts a fake Compute Engine on 127.0.0.1 (a free port unless one is given). */
export async function startFakeGce(opts: FakeGceOptions = {}): Promise<FakeGce> {
  const fake = new FakeGce(opts);
  await fake.listen();
  return fake;
}
