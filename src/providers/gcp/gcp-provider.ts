import type { Logger } from 'pino';
import type { ProviderCheck } from '../check';
import { CapacityError, checkOwner, InvalidRequestError, TransientProviderError } from '../errors';
import type { Instance, InstanceRef, InstanceState, OwnedInstance } from '../types';
import type { Location, Offer, Provider, ProvisionRequest } from '../types';
import { CALL_OPTIONS, GcpApi, type CallContext, type GcpClientOptions } from './api';
import { checkGcpZones, gcpCheckReport, type GcpCheckResult } from './check';
import { GCP_PROVIDER, regionOfZone, type GcpProviderConfig } from './config';
import { ALREADY_EXISTS_CODES, NOT_FOUND_CODES, classifyOperationError } from './errors';
import { instanceResource, isAttemptsInstance, ownerOf, type GceInstance } from './instance-resource';
import { gceInstanceName, gceRequestId, lastSegment } from './names';
import { deleteGceInstance } from './delete';
import { OPERATION_GONE_CODES, cleanupCall, errorIn, operationTypesFor, waitDone } from './operations';
import type { GceOperation } from './operations';
import { ownedGceInstances } from './owned';
import { PROVIDER_ENDED_OPERATIONS, goneStateOf, hasEnded, instanceStateOf } from './state';
import { configuredZones, gcpCatalog } from './zones';

export type { GcpCheckResult, GcpZoneCheck } from './check';

const VANISHED: ReadonlySet<string> = new Set(['InstanceVanished']);

export interface GcpProviderOptions {
  /** Parsed `providers.gcp` settings. */
  config: GcpProviderConfig;
  /** This installation's owner mark: stamped on every instance, and the only label reconcile touches. */
  owner: string;
  logger: Logger;
  /** Offers to use instead of the catalog (tests). @default the gcp catalog, filtered to the configured zones */
  catalogOffers?: Offer[];
  /** A SkyPilot-format catalog directory replacing the bundled gcp.csv. @default the bundled file */
  catalogDir?: string;
  /** Replaces parts of the client options (tests). @default from the config */
  clientOptions?: Partial<GcpClientOptions>;
}

/**
 * Compute Engine behind the provider interface. An instance's name is derived from the
 * idempotency key and its create carries a requestId derived from the same, so neither a retried
 * activity nor a lost answer leaves two machines: GCE answers a repeated requestId with the first
 * operation, and a second create of the name with alreadyExists, which is then checked to be ours
 * by its labels. Every call has a deadline and the caller's signal; transient failures are retried
 * here, everything else is classified for the workflow's failover.
 */
export class GcpProvider implements Provider {
  readonly name = GCP_PROVIDER;
  private readonly api: GcpApi;
  private readonly log: Logger;
  private readonly config: GcpProviderConfig;
  private zoneList?: Promise<string[]>;

  constructor(private readonly opts: GcpProviderOptions) {
    this.config = opts.config;
    this.log = opts.logger.child({ component: 'gcp-provider' });
    this.api = new GcpApi({ config: opts.config, logger: opts.logger, clientOptions: opts.clientOptions });
  }

  private location(zone?: string): Location {
    return zone === undefined
      ? { provider: this.name }
      : { provider: this.name, region: regionOfZone(zone), zone };
  }

  private catalog(): Promise<Offer[]> {
    return gcpCatalog(this.opts);
  }

  /** The configured zones: `zones`, and every catalog zone of `regions`. */
  zones(): Promise<string[]> {
    return (this.zoneList ??= configuredZones(this.config, () => this.catalog()));
  }

  /** Catalog offers in the configured zones. */
  async offers(): Promise<Offer[]> {
    const zones = new Set(await this.zones());
    return (await this.catalog())
      .filter((o) => zones.has(o.zone))
      .map((o) => ({ ...o, provider: this.name }));
  }

  private waitDone(op: GceOperation, ctx: CallContext, timeoutMs: number): Promise<GceOperation> {
    return waitDone(this.api, this.config, this.log, op, ctx, timeoutMs);
  }

  private getInstance(zone: string, name: string, ctx: CallContext): Promise<GceInstance> {
    return this.api
      .once(ctx, () =>
        this.api.instances.get({ project: this.config.project, zone, instance: name }, CALL_OPTIONS),
      )
      .then(([i]) => i);
  }

  /** The instance that already has the attempt's name: ours when its labels say so. */
  private async adopt(req: ProvisionRequest, name: string, ctx: CallContext): Promise<GceInstance> {
    let inst: GceInstance;
    try {
      inst = await this.getInstance(req.offer.zone, name, ctx);
    } catch (err) {
      if (!errorIn(err, NOT_FOUND_CODES)) throw err;
      // Deleted between the answers: the create may go ahead again.
      throw new TransientProviderError(
        `instance ${name} existed and is gone`,
        ctx.location,
        'InstanceVanished',
      );
    }
    if (!isAttemptsInstance(inst, req.labels)) {
      throw new InvalidRequestError(
        `an instance named ${name} exists in ${req.offer.zone} and is not this attempt's (labels ${JSON.stringify(inst.labels ?? {})})`,
        ctx.location,
        'NameConflict',
      );
    }
    this.log.info(
      {
        instance: name,
        zone: req.offer.zone,
        workflowId: req.labels.workflowId,
        attempt: req.labels.attempt,
      },
      'provision: the attempt already has its instance; returning it',
    );
    return inst;
  }

  async provision(req: ProvisionRequest): Promise<Instance> {
    const { offer, labels } = req;
    const location = this.location(offer.zone);
    const ctx: CallContext = { location, signal: req.signal };
    const zones = await this.zones();
    if (!zones.includes(offer.zone)) {
      throw new InvalidRequestError(
        `zone ${offer.zone} is not configured for gcp (${zones.join(', ')})`,
        location,
        'ZoneNotConfigured',
      );
    }
    checkOwner(labels.owner, this.opts.owner, location);
    const { project } = this.config;
    const name = gceInstanceName(req.idempotencyKey, offer.instanceType, offer.zone, labels.workload);
    const body = instanceResource(req, name, location, this.config);
    // The same requestId on every resend of the create, so GCE answers with the first operation;
    // a fresh one only after an operation failed, which created nothing.
    let failedOperations = 0;
    const inst = await this.api.retrying(ctx, 'insert', async () => {
      const requestId = gceRequestId(
        req.idempotencyKey,
        offer.instanceType,
        offer.zone,
        ...(failedOperations ? [`after-failed-operation-${failedOperations}`] : []),
      );
      let op: GceOperation;
      try {
        const [lro] = await this.api.once(ctx, () =>
          this.api.instances.insert(
            { project, zone: offer.zone, requestId, instanceResource: body },
            CALL_OPTIONS,
          ),
        );
        op = lro.latestResponse as GceOperation;
      } catch (err) {
        if (errorIn(err, ALREADY_EXISTS_CODES)) return this.adopt(req, name, ctx);
        throw err;
      }
      let done: GceOperation;
      try {
        done = await this.waitDone(op, ctx, this.config.operationTimeout);
      } catch (err) {
        if (!errorIn(err, OPERATION_GONE_CODES)) throw err;
        // GCE forgot the operation (a poll after a long pause): the instance says whether it worked.
        try {
          return await this.adopt(req, name, ctx);
        } catch (adoptErr) {
          if (!errorIn(adoptErr, VANISHED)) throw adoptErr;
          // Not created; the requestId may still answer with the forgotten operation: a new one.
          failedOperations++;
          throw err;
        }
      }
      const failed = classifyOperationError(done, location);
      if (failed) {
        if (errorIn(failed, ALREADY_EXISTS_CODES)) return this.adopt(req, name, ctx);
        if (failed.retryable) failedOperations++;
        throw failed;
      }
      this.log.info(
        {
          instance: name,
          zone: offer.zone,
          machineType: offer.instanceType,
          spot: offer.spot,
          workflowId: labels.workflowId,
          attempt: labels.attempt,
        },
        'instance created',
      );
      try {
        return await this.getInstance(offer.zone, name, ctx);
      } catch (err) {
        if (!errorIn(err, NOT_FOUND_CODES)) throw err;
        // Created and already gone (a spot instance reclaimed at once): this zone failed the attempt.
        throw new CapacityError(
          `instance ${name} was created and is already gone`,
          location,
          'InstanceVanished',
        );
      }
    });
    return this.toInstance(inst, offer);
  }

  private toInstance(i: GceInstance, offer: Offer): Instance {
    const nic = i.networkInterfaces?.[0];
    const publicIp = nic?.accessConfigs?.find((a) => a.natIP)?.natIP ?? undefined;
    const privateIp = nic?.networkIP ?? undefined;
    return {
      provider: this.name,
      id: i.name!,
      region: offer.region,
      zone: offer.zone,
      offer,
      address: publicIp ?? privateIp,
      state: instanceStateOf(i),
      details: {
        instanceId: i.id == null ? undefined : String(i.id),
        machineType: lastSegment(i.machineType),
        status: i.status ?? undefined,
        provisioningModel: i.scheduling?.provisioningModel ?? undefined,
        privateIp,
        publicIp,
        creationTimestamp: i.creationTimestamp ?? undefined,
      },
    };
  }

  private operationTypesFor(zone: string, name: string, ctx: CallContext): Promise<string[]> {
    return operationTypesFor(this.api, this.config.project, zone, name, ctx);
  }

  /**
   * The instance's state. An instance that stopped or vanished is looked up in its zone's
   * operations: a preemption (or a host event GCE ended it with) makes it `preempted`, a delete
   * `terminated`. When that look-up fails, a stopped spot instance counts as preempted.
   */
  async describe(ref: InstanceRef, signal?: AbortSignal): Promise<InstanceState> {
    const ctx: CallContext = { location: this.location(ref.zone), signal };
    let inst: GceInstance;
    try {
      [inst] = await this.api.call(ctx, 'instances.get', () =>
        this.api.instances.get(
          { project: this.config.project, zone: ref.zone, instance: ref.id },
          CALL_OPTIONS,
        ),
      );
    } catch (err) {
      if (!errorIn(err, NOT_FOUND_CODES)) throw err;
      try {
        return goneStateOf(await this.operationTypesFor(ref.zone, ref.id, ctx));
      } catch (opErr) {
        this.log.warn(
          { instance: ref.id, err: (opErr as Error).message },
          'operations of a gone instance unknown',
        );
        return 'not-found';
      }
    }
    if (!hasEnded(inst)) return instanceStateOf(inst);
    try {
      const types = await this.operationTypesFor(ref.zone, ref.id, ctx);
      return instanceStateOf(
        inst,
        types.some((t) => PROVIDER_ENDED_OPERATIONS.has(t)),
      );
    } catch (err) {
      const spot = inst.scheduling?.provisioningModel === 'SPOT' || inst.scheduling?.preemptible === true;
      this.log.warn(
        { instance: ref.id, err: (err as Error).message },
        'operations of a stopped instance unknown',
      );
      return instanceStateOf(inst, spot);
    }
  }

  /**
   * Deletes the instance (see {@link deleteGceInstance}: one still booting is waited for); one
   * that is already gone is success. Waits a while for the delete to finish. Compute Engine not answering is a transient failure here, never "unavailable": the
   * instance is still there (and billed), so the delete must be tried again, not given up on.
   */
  terminate(ref: InstanceRef, signal?: AbortSignal): Promise<void> {
    return cleanupCall(`instance ${ref.id} is not deleted yet`, () => this.deleteInstance(ref, signal));
  }

  private deleteInstance(ref: InstanceRef, signal?: AbortSignal): Promise<void> {
    const ctx: CallContext = { location: this.location(ref.zone), signal };
    return deleteGceInstance({ api: this.api, config: this.config, log: this.log }, ref, ctx);
  }

  /**
   * Instances carrying `owner`'s label in the configured zones (any status: a stopped VM still
   * bills its disk), with their owner marks, from one aggregated list over the project. Like
   * terminate, it fails as transient when Compute Engine does not answer: the compensation of a
   * failed create lists what the attempt left, and must list again rather than give up.
   */
  listOwned(owner: string): Promise<OwnedInstance[]> {
    return cleanupCall('owned instances not listed', () => this.listOwnedInstances(owner));
  }

  private ownedGceInstances(owner: string, signal?: AbortSignal): Promise<GceInstance[]> {
    return ownedGceInstances(this.api, this.config.project, owner, { location: this.location(), signal });
  }

  /**
   * One aggregated list of this installation's instances answers for all of them; only one
   * that is missing or has ended is described on its own (its operations say whether it was
   * preempted), which is rare.
   */
  async describeMany(refs: InstanceRef[], signal?: AbortSignal): Promise<Map<string, InstanceState>> {
    const listed = new Map((await this.ownedGceInstances(this.opts.owner, signal)).map((i) => [i.name, i]));
    const out = new Map<string, InstanceState>();
    await Promise.all(
      refs.map(async (ref) => {
        const inst = listed.get(ref.id);
        if (inst && lastSegment(inst.zone) === ref.zone && !hasEnded(inst)) {
          out.set(ref.id, instanceStateOf(inst));
          return;
        }
        try {
          out.set(ref.id, await this.describe(ref, signal));
        } catch (err) {
          this.log.warn({ instance: ref.id, err: (err as Error).message }, 'describe failed; not counted');
        }
      }),
    );
    return out;
  }

  private async listOwnedInstances(owner: string): Promise<OwnedInstance[]> {
    const zones = new Set(await this.zones());
    const found = await this.ownedGceInstances(owner);
    return found
      .filter((i) => zones.has(lastSegment(i.zone)) && ownerOf(i).owner === owner)
      .map((i) => {
        const zone = lastSegment(i.zone);
        return {
          provider: this.name,
          id: i.name!,
          region: regionOfZone(zone),
          zone,
          labels: ownerOf(i),
          launchedAt: i.creationTimestamp ?? undefined,
        };
      });
  }

  /** Per configured zone: answers, credentials, UP (see {@link checkGcpZones}). */
  async checkZones(signal?: AbortSignal): Promise<GcpCheckResult> {
    return checkGcpZones(this.name, this.api, this.config, await this.zones(), signal);
  }

  async check(signal?: AbortSignal): Promise<ProviderCheck> {
    return gcpCheckReport(await this.checkZones(signal));
  }

  /** Closes the Compute Engine clients. */
  close(): Promise<void> {
    return this.api.close();
  }
}
