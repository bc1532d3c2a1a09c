import { randomUUID } from 'node:crypto';
import type { protos } from '@google-cloud/compute';
import type { Logger } from 'pino';
import { loadCatalog } from '../../catalog/catalog';
import { isGcpGpuFamily } from '../../catalog/gcp-shapes';
import { sleep } from '../calls';
import { CapacityError, checkOwner, InvalidRequestError, ProviderError } from '../errors';
import { ProviderUnavailableError, TransientProviderError } from '../errors';
import type { Instance, InstanceOwner, InstanceRef, InstanceState } from '../types';
import type { Location, Offer, Provider, ProvisionRequest } from '../types';
import { deadManEnvValue } from '../types';
import { CALL_OPTIONS, GcpApi, type CallContext, type GcpClientOptions } from './api';
import { regionOfZone, type GcpProviderConfig } from './config';
import { ALREADY_EXISTS_CODES, NOT_FOUND_CODES, classifyOperationError } from './errors';
import { GCP_LABELS, gceInstanceName, gceRequestId, labelValue, lastSegment } from './names';
import { PROVIDER_ENDED_OPERATIONS, goneStateOf, hasEnded, instanceStateOf } from './state';
import { MAX_METADATA_VALUE_BYTES, startupScript } from './startup-script';

type GceInstance = protos.google.cloud.compute.v1.IInstance;
type GceOperation = protos.google.cloud.compute.v1.IOperation;

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

/** GCE accelerator type names of the catalog's GPU names (attached to N1 hosts). */
export const GCE_ACCELERATOR_TYPES: Readonly<Record<string, string>> = Object.freeze({
  T4: 'nvidia-tesla-t4',
  V100: 'nvidia-tesla-v100',
  P100: 'nvidia-tesla-p100',
  P4: 'nvidia-tesla-p4',
  K80: 'nvidia-tesla-k80',
  A100: 'nvidia-tesla-a100',
  'A100-80GB': 'nvidia-a100-80gb',
  H100: 'nvidia-h100-80gb',
  L4: 'nvidia-l4',
});

/** Metadata keys that keep the exact owner values a label may only hold sanitised. */
const METADATA_KEYS = GCP_LABELS;

const PROVIDER = 'gcp';
const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** ZoneOperations.wait holds a call open for up to two minutes before answering. */
const WAIT_HOLD_MS = 120_000;
/** How long terminate waits for the delete to finish (its activity has two minutes). */
const DELETE_WAIT_MS = 60_000;

/** What `check` learnt about one zone. */
export interface GcpZoneCheck {
  zone: string;
  region: string;
  /** The zone answered, the credentials were accepted and the zone is UP. */
  ok: boolean;
  /** The zone answered ZonesClient.get: the credentials are accepted in the project. */
  credentialsAccepted: boolean;
  /** The zone's status as GCE reports it ("UP", "DOWN"). */
  status?: string;
  /** Why not ok: the taxonomy class, GCE's code and a message. */
  error?: { type: string; code?: string; message: string };
}

/** Outcome of {@link GcpProvider.check}. */
export interface GcpCheckResult {
  provider: string;
  project: string;
  ok: boolean;
  /** "invalid" when any zone refused them, "valid" when one accepted them, else "unknown". */
  credentials: 'valid' | 'invalid' | 'unknown';
  zones: GcpZoneCheck[];
}

function metadataValue(i: GceInstance, key: string): string | undefined {
  return i.metadata?.items?.find((m) => m.key === key)?.value ?? undefined;
}

/** The owner marks of an instance: exact from its metadata, else as its labels hold them. */
function ownerOf(i: GceInstance): Partial<InstanceOwner> {
  const read = (key: string) => metadataValue(i, key) ?? i.labels?.[key];
  const attempt = Number(read(GCP_LABELS.attempt));
  return {
    owner: read(GCP_LABELS.owner),
    workload: read(GCP_LABELS.workload),
    workflowId: read(GCP_LABELS.workflowId),
    attempt: Number.isInteger(attempt) ? attempt : undefined,
  };
}

/**
 * A call that cleans up (a delete, the listing a compensation reads): Compute Engine not
 * answering is transient for it, never "unavailable", which the workflow treats as final for the
 * call and uses to block the provider. An unanswered cleanup must be tried again, or a billed
 * machine is given up on.
 */
async function cleanupCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof ProviderUnavailableError)) throw err;
    throw new TransientProviderError(`${err.message}; ${what}`, err.location, err.code);
  }
}

function errorIn(err: unknown, codes: ReadonlySet<string>): boolean {
  return err instanceof ProviderError && err.code !== undefined && codes.has(err.code);
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
  readonly name = PROVIDER;
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
      ? { provider: PROVIDER }
      : { provider: PROVIDER, region: regionOfZone(zone), zone };
  }

  private async catalog(): Promise<Offer[]> {
    return (
      this.opts.catalogOffers ??
      (await loadCatalog({ providers: [PROVIDER], dir: this.opts.catalogDir })).offers
    ).filter((o) => o.provider === PROVIDER);
  }

  /** The configured zones: `zones`, and every catalog zone of `regions`. */
  zones(): Promise<string[]> {
    this.zoneList ??= (async () => {
      const zones = new Set(this.config.zones ?? []);
      if (this.config.regions) {
        const regions = new Set(this.config.regions);
        for (const o of await this.catalog()) if (regions.has(o.region)) zones.add(o.zone);
      }
      return [...zones].sort();
    })();
    return this.zoneList;
  }

  /** Catalog offers in the configured zones. */
  async offers(): Promise<Offer[]> {
    const zones = new Set(await this.zones());
    return (await this.catalog())
      .filter((o) => zones.has(o.zone))
      .map((o) => ({ ...o, provider: this.name }));
  }

  private startupScript(req: ProvisionRequest, instanceName: string): string {
    return startupScript({
      temporalAddress: req.agent.address,
      temporalNamespace: req.agent.namespace,
      workload: req.labels.workload,
      agentInstall: this.config.agentInstall,
      agentCommand: this.config.agentCommand,
      deadManTimeout: deadManEnvValue(req.agent),
      instanceName,
    });
  }

  /** The GPUs to attach: none for machine types with GPUs built in (A2, A3, G2, ...). */
  private accelerators(offer: Offer, location: Location): GceInstance['guestAccelerators'] {
    if (offer.gpuCount === 0 || !offer.gpuType || isGcpGpuFamily(offer.instanceType)) return [];
    const type = GCE_ACCELERATOR_TYPES[offer.gpuType];
    if (!type) {
      throw new InvalidRequestError(
        `no GCE accelerator type is known for GPU ${offer.gpuType}`,
        location,
        'UnknownAccelerator',
      );
    }
    return [
      { acceleratorType: `zones/${offer.zone}/acceleratorTypes/${type}`, acceleratorCount: offer.gpuCount },
    ];
  }

  /** The body of the create call. */
  instanceResource(req: ProvisionRequest, name: string): GceInstance {
    const { offer, labels } = req;
    const location = this.location(offer.zone);
    const script = this.startupScript(req, name);
    if (Buffer.byteLength(script) > MAX_METADATA_VALUE_BYTES) {
      throw new InvalidRequestError(
        'the agent startup script is over 256 KB',
        location,
        'StartupScriptTooLarge',
      );
    }
    const exact: Record<keyof InstanceOwner, string> = {
      owner: labels.owner,
      workload: labels.workload,
      workflowId: labels.workflowId,
      attempt: String(labels.attempt),
    };
    const gceLabels = Object.fromEntries(
      (Object.keys(GCP_LABELS) as Array<keyof InstanceOwner>).map((k) => [
        GCP_LABELS[k],
        labelValue(exact[k]),
      ]),
    );
    const guestAccelerators = this.accelerators(offer, location);
    // GPUs cannot live-migrate, and neither can spot instances.
    const onHostMaintenance = offer.gpuCount > 0 || offer.spot ? 'TERMINATE' : 'MIGRATE';
    const c = this.config;
    return {
      name,
      machineType: `zones/${offer.zone}/machineTypes/${offer.instanceType}`,
      labels: gceLabels,
      metadata: {
        items: [
          { key: 'startup-script', value: script },
          ...(Object.keys(METADATA_KEYS) as Array<keyof InstanceOwner>).map((k) => ({
            key: METADATA_KEYS[k],
            value: exact[k],
          })),
        ],
      },
      scheduling: offer.spot
        ? {
            provisioningModel: 'SPOT',
            // A preempted spot instance is deleted, disk and all: nothing is left to bill or leak.
            instanceTerminationAction: 'DELETE',
            onHostMaintenance,
            automaticRestart: false,
          }
        : { provisioningModel: 'STANDARD', onHostMaintenance, automaticRestart: true },
      guestAccelerators,
      disks: [
        {
          boot: true,
          autoDelete: true,
          type: 'PERSISTENT',
          initializeParams: {
            sourceImage: c.image,
            diskSizeGb: String(c.bootDiskGb),
            diskType: `zones/${offer.zone}/diskTypes/${c.bootDiskType}`,
            labels: gceLabels,
          },
        },
      ],
      networkInterfaces: [
        {
          network: c.network,
          subnetwork: c.subnetwork,
          accessConfigs: c.externalIp ? [{ name: 'External NAT', type: 'ONE_TO_ONE_NAT' }] : [],
        },
      ],
      serviceAccounts: c.serviceAccount ? [{ email: c.serviceAccount, scopes: [CLOUD_PLATFORM_SCOPE] }] : [],
    };
  }

  /**
   * Polls an operation with ZoneOperations.wait until it is DONE. wait may answer before DONE
   * (it holds a call for up to two minutes); a failed poll is retried with backoff and only
   * `maxAttempts` failed polls in a row fail the wait. An operation still running after
   * `timeoutMs` is a failure of its zone.
   */
  private async waitDone(op: GceOperation, ctx: CallContext, timeoutMs: number): Promise<GceOperation> {
    const { project, maxAttempts, retryDelay, maxRetryDelay, callTimeout } = this.config;
    const zone = ctx.location.zone!;
    const until = Date.now() + timeoutMs;
    let current = op;
    let failures = 0;
    while (current.status !== 'DONE') {
      if (Date.now() >= until) {
        throw new CapacityError(
          `operation ${current.name} (${current.operationType}) in ${zone} not done after ${timeoutMs} ms`,
          ctx.location,
          'OperationTimeout',
        );
      }
      try {
        [current] = await this.api.once(
          ctx,
          () => this.api.zoneOperations.wait({ project, zone, operation: current.name! }, CALL_OPTIONS),
          callTimeout + WAIT_HOLD_MS,
        );
        failures = 0;
      } catch (err) {
        if (!(err instanceof ProviderError) || !err.retryable || err.code === 'Cancelled') throw err;
        if (++failures >= maxAttempts) throw err;
        this.log.warn(
          { operation: current.name, zone, code: err.code, failures },
          'operation poll failed; polling again',
        );
        try {
          await sleep(Math.min(maxRetryDelay, retryDelay * 2 ** (failures - 1)), ctx.signal);
        } catch {
          throw new TransientProviderError('Compute Engine call cancelled', ctx.location, 'Cancelled');
        }
      }
    }
    return current;
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
    const l = inst.labels ?? {};
    const ours =
      l[GCP_LABELS.owner] === labelValue(req.labels.owner) &&
      l[GCP_LABELS.workflowId] === labelValue(req.labels.workflowId) &&
      l[GCP_LABELS.attempt] === labelValue(String(req.labels.attempt));
    if (!ours) {
      throw new InvalidRequestError(
        `an instance named ${name} exists in ${req.offer.zone} and is not this attempt's (labels ${JSON.stringify(l)})`,
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
    const instanceResource = this.instanceResource(req, name);
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
          this.api.instances.insert({ project, zone: offer.zone, requestId, instanceResource }, CALL_OPTIONS),
        );
        op = lro.latestResponse as GceOperation;
      } catch (err) {
        if (errorIn(err, ALREADY_EXISTS_CODES)) return this.adopt(req, name, ctx);
        throw err;
      }
      const done = await this.waitDone(op, ctx, this.config.operationTimeout);
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

  /** The types of the zone's operations that targeted the instance (newest GCE keeps). */
  private async operationTypesFor(zone: string, name: string, ctx: CallContext): Promise<string[]> {
    const [ops] = await this.api.call(ctx, 'zoneOperations.list', () =>
      this.api.zoneOperations.list(
        {
          project: this.config.project,
          zone,
          filter: `targetLink eq ".*/instances/${name}"`,
          maxResults: 100,
        },
        CALL_OPTIONS,
      ),
    );
    return ops.map((o) => o.operationType ?? '').filter(Boolean);
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
   * Deletes the instance; one that is already gone is success. Waits a while for the delete to
   * finish. Compute Engine not answering is a transient failure here, never "unavailable": the
   * instance is still there (and billed), so the delete must be tried again, not given up on.
   */
  terminate(ref: InstanceRef, signal?: AbortSignal): Promise<void> {
    return cleanupCall(`instance ${ref.id} is not deleted yet`, () => this.deleteInstance(ref, signal));
  }

  private async deleteInstance(ref: InstanceRef, signal?: AbortSignal): Promise<void> {
    const ctx: CallContext = { location: this.location(ref.zone), signal };
    // Resends of this delete are the same request to GCE; a later terminate is a new one.
    const requestId = randomUUID();
    await this.api.retrying(ctx, 'delete', async () => {
      let op: GceOperation;
      try {
        const [lro] = await this.api.once(ctx, () =>
          this.api.instances.delete(
            { project: this.config.project, zone: ref.zone, instance: ref.id, requestId },
            CALL_OPTIONS,
          ),
        );
        op = lro.latestResponse as GceOperation;
      } catch (err) {
        if (errorIn(err, NOT_FOUND_CODES)) return;
        throw err;
      }
      this.log.info({ instance: ref.id, zone: ref.zone }, 'instance deleting');
      let done: GceOperation;
      try {
        done = await this.waitDone(op, ctx, Math.min(this.config.operationTimeout, DELETE_WAIT_MS));
      } catch (err) {
        // Accepted and still going: GCE finishes a delete on its own, and reconcile sweeps leftovers.
        if (errorIn(err, new Set(['OperationTimeout']))) return;
        throw err;
      }
      const failed = classifyOperationError(done, ctx.location);
      if (failed && !errorIn(failed, NOT_FOUND_CODES)) throw failed;
    });
  }

  /**
   * Instances carrying `owner`'s label in the configured zones (any status: a stopped VM still
   * bills its disk), with their owner marks, from one aggregated list over the project. Like
   * terminate, it fails as transient when Compute Engine does not answer: the compensation of a
   * failed create lists what the attempt left, and must list again rather than give up.
   */
  listOwned(owner: string): Promise<Array<InstanceRef & { labels?: Partial<InstanceOwner> }>> {
    return cleanupCall('owned instances not listed', () => this.listOwnedInstances(owner));
  }

  private async listOwnedInstances(
    owner: string,
  ): Promise<Array<InstanceRef & { labels?: Partial<InstanceOwner> }>> {
    const zones = new Set(await this.zones());
    const ctx: CallContext = { location: this.location() };
    const filter = `labels.${GCP_LABELS.owner} = "${labelValue(owner)}"`;
    const found = await this.api.call(ctx, 'instances.aggregatedList', async () => {
      const out: GceInstance[] = [];
      const pages = this.api.instances.aggregatedListAsync(
        { project: this.config.project, filter, returnPartialSuccess: true },
        CALL_OPTIONS,
      );
      for await (const [, scoped] of pages) out.push(...(scoped.instances ?? []));
      return out;
    });
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

  /**
   * For each configured zone: does it answer (ZonesClient.get), are the credentials accepted, is
   * it UP. Never throws for a zone's failure; it is reported in that zone's entry.
   */
  async check(signal?: AbortSignal): Promise<GcpCheckResult> {
    const zones = await Promise.all(
      (await this.zones()).map(async (zone): Promise<GcpZoneCheck> => {
        const ctx: CallContext = { location: this.location(zone), signal };
        const out: GcpZoneCheck = { zone, region: regionOfZone(zone), ok: false, credentialsAccepted: false };
        try {
          const [z] = await this.api.call(ctx, 'zones.get', () =>
            this.api.zones.get({ project: this.config.project, zone }, CALL_OPTIONS),
          );
          out.credentialsAccepted = true;
          out.status = z.status ?? undefined;
          if (z.status !== 'UP') {
            throw new ProviderUnavailableError(
              `zone ${zone} is ${z.status ?? 'in no status'}`,
              ctx.location,
              'ZoneDown',
              'zone',
            );
          }
          out.ok = true;
        } catch (err) {
          const e = err instanceof ProviderError ? err : undefined;
          out.error = { type: e?.name ?? 'Error', code: e?.code, message: (err as Error).message };
        }
        return out;
      }),
    );
    const refused = zones.some((z) => z.error?.type === 'AuthError');
    const accepted = zones.some((z) => z.credentialsAccepted);
    return {
      provider: this.name,
      project: this.config.project,
      ok: zones.length > 0 && zones.every((z) => z.ok),
      credentials: refused ? 'invalid' : accepted ? 'valid' : 'unknown',
      zones,
    };
  }

  /** Closes the Compute Engine clients. */
  close(): Promise<void> {
    return this.api.close();
  }
}
