import {
  DescribeInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type Instance as Ec2Instance,
} from '@aws-sdk/client-ec2';
import type { Logger } from 'pino';
import { loadCatalog } from '../../catalog/catalog';
import { bootOptions } from '../boot-script';
import type { ProviderCheck } from '../check';
import {
  CapacityError,
  checkOwner,
  InvalidRequestError,
  ProviderError,
  TransientProviderError,
} from '../errors';
import type { Instance, InstanceOwner, InstanceRef, InstanceState } from '../types';
import type { Location, Offer, OwnedInstance, Provider, ProvisionRequest } from '../types';
import { AwsApi, type AwsCredentials, type CallContext, type Ec2ClientFactory } from './api';
import { awsCheckReport, checkAwsRegions, type AwsCheckResult } from './check';
import { AWS_PROVIDER, type AwsProviderConfig } from './config';
import { runInstancesInput, toInstance } from './launch';
import { AwsRegionInfo, type AwsZone } from './region-info';
import { AwsSpotPrices } from './spot-prices';
import { AWS_TAGS, awsClientToken, instancesOf, launchTags, ownerOfTags } from './tags';
import { instanceStateOf } from './state';
import { MAX_USER_DATA_BYTES, buildUserData } from './user-data';

export interface AwsProviderOptions {
  /** Parsed `providers.aws` settings. */
  config: AwsProviderConfig;
  /** This installation's owner mark: stamped on every instance, and the only tag reconcile touches. */
  owner: string;
  logger: Logger;
  /** Offers to use instead of the catalog (tests). @default the aws catalog, filtered to `config.regions` */
  catalogOffers?: Offer[];
  /** A SkyPilot-format catalog directory replacing the bundled aws.csv. @default the bundled file */
  catalogDir?: string;
  /** @default the SDK's default credential chain (environment, profiles, SSO, instance role) */
  credentials?: AwsCredentials;
  /** Makes the EC2 client of a region (tests). @default an EC2Client with SDK retries off */
  clientFactory?: Ec2ClientFactory;
  /**
   * How long after an instance's launch a "not found" is taken for EC2's eventual consistency
   * rather than for a gone instance: from the ref's `launchedAt` (any worker), else from this
   * process's own record of the launch. @default 60000
   */
  launchVisibilityMs?: number;
}

const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];

/**
 * EC2 behind the provider interface. Instances are found by their tags, not by remembered ids:
 * a launch looks for the attempt's instance first and carries a ClientToken derived from the
 * idempotency key, so neither a retried activity nor a crash between launch and record leaves
 * two machines. Every call has a deadline and the caller's signal; transient failures are
 * retried here, everything else is classified for the workflow's failover.
 */
export class AwsProvider implements Provider {
  readonly name = AWS_PROVIDER;
  private readonly api: AwsApi;
  private readonly log: Logger;
  private readonly config: AwsProviderConfig;
  private readonly regionInfo: AwsRegionInfo;
  /** Instances this process launched, by id, with the time: EC2 may not list them at once. */
  private readonly launchedAt = new Map<string, number>();
  /** Made on first use, with `livePrices: spot` only. */
  private spotPrices?: AwsSpotPrices;

  constructor(private readonly opts: AwsProviderOptions) {
    this.config = opts.config;
    this.log = opts.logger.child({ component: 'aws-provider' });
    this.api = new AwsApi({
      config: opts.config,
      logger: opts.logger,
      credentials: opts.credentials,
      clientFactory: opts.clientFactory,
    });
    this.regionInfo = new AwsRegionInfo(this.api, opts.config);
  }

  private location(region: string, zone?: string): Location {
    return zone === undefined ? { provider: this.name, region } : { provider: this.name, region, zone };
  }

  /** Catalog offers in the configured regions (and, where subnets are configured, their zones). */
  async offers(): Promise<Offer[]> {
    const all =
      this.opts.catalogOffers ??
      (await loadCatalog({ providers: [AWS_PROVIDER], dir: this.opts.catalogDir })).offers;
    const regions = new Set(this.config.regions);
    const mine = all.filter((o) => o.provider === AWS_PROVIDER && regions.has(o.region));
    const subnetZones = new Map<string, Set<string>>();
    for (const region of this.config.regions) {
      if (this.config.network[region]?.subnetIds) {
        const byZone = await this.regionInfo.subnets(region, { location: this.location(region) });
        subnetZones.set(region, new Set(byZone.keys()));
      }
    }
    // Zone names (us-east-1a) map to AZ ids per account: with this account's map, a spec's
    // zones may name either (see AwsRegionInfo.zoneNames).
    const names = await this.regionInfo.zoneNames(this.config.regions, (region) => ({
      location: this.location(region),
    }));
    const offers = mine
      .filter((o) => subnetZones.get(o.region)?.has(o.zone) ?? true)
      .map((o) => {
        const zoneName = names.get(o.zone);
        return { ...o, provider: this.name, ...(zoneName && zoneName !== o.zone ? { zoneName } : {}) };
      });
    if (this.config.livePrices !== 'spot') return offers;
    this.spotPrices ??= new AwsSpotPrices({ api: this.api, regionInfo: this.regionInfo, logger: this.log });
    return this.spotPrices.apply(offers, (region) => ({ location: this.location(region) }));
  }

  /** The live instance an attempt already launched, if any (oldest first when, somehow, several). */
  private async findAttempt(
    region: string,
    labels: InstanceOwner,
    clientToken: string,
    ctx: CallContext,
  ): Promise<Ec2Instance | undefined> {
    const res = await this.api.once(ctx, (abortSignal) =>
      this.api.client(region).send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: `tag:${AWS_TAGS.owner}`, Values: [labels.owner] },
            { Name: `tag:${AWS_TAGS.workflowId}`, Values: [labels.workflowId] },
            { Name: `tag:${AWS_TAGS.attempt}`, Values: [String(labels.attempt)] },
            { Name: `tag:${AWS_TAGS.request}`, Values: [clientToken] },
            { Name: 'instance-state-name', Values: LIVE_STATES },
          ],
        }),
        { abortSignal },
      ),
    );
    const found = instancesOf(res).sort(
      (a, b) => (a.LaunchTime?.getTime() ?? 0) - (b.LaunchTime?.getTime() ?? 0),
    );
    if (found.length > 1) {
      this.log.warn(
        { workflowId: labels.workflowId, attempt: labels.attempt, instances: found.map((i) => i.InstanceId) },
        'several instances carry the same attempt; using the oldest',
      );
    }
    return found[0];
  }

  /** The configured subnet of the zone, when the region has subnets configured. */
  private async subnetOf(zone: AwsZone, region: string, ctx: CallContext): Promise<string | undefined> {
    if (!this.config.network[region]?.subnetIds) return undefined;
    const subnetId = (await this.regionInfo.subnets(region, ctx)).get(zone.id);
    if (!subnetId) {
      throw new CapacityError(
        `none of the configured subnets of ${region} is in zone ${zone.id}`,
        ctx.location,
        'NoSubnetInZone',
      );
    }
    return subnetId;
  }

  async provision(req: ProvisionRequest): Promise<Instance> {
    const { offer, labels } = req;
    const location = this.location(offer.region, offer.zone);
    const ctx: CallContext = { location, signal: req.signal };
    if (!this.config.regions.includes(offer.region)) {
      throw new InvalidRequestError(
        `region ${offer.region} is not configured for aws (${this.config.regions.join(', ')})`,
        location,
        'RegionNotConfigured',
      );
    }
    checkOwner(labels.owner, this.opts.owner, location);
    const zone = await this.regionInfo.zoneOf(offer.region, offer.zone, ctx);
    const image = await this.regionInfo.image(offer.region, ctx);
    const subnetId = await this.subnetOf(zone, offer.region, ctx);
    const userData = buildUserData(bootOptions(req, this.config));
    if (Buffer.byteLength(userData, 'base64') > MAX_USER_DATA_BYTES) {
      throw new InvalidRequestError('the agent boot script is over 16 KiB', location, 'UserDataTooLarge');
    }
    const clientToken = awsClientToken(req.idempotencyKey, offer.instanceType, zone.id);
    const tags = launchTags(labels, clientToken);
    const input = runInstancesInput(
      { offer, zone, image, subnetId, clientToken, tags, userData },
      this.config,
    );

    // Each try looks for the attempt's instance first: a launch whose answer was lost is found
    // by its tags, and only then is RunInstances (with the same ClientToken) sent again.
    const ec2 = await this.api.retrying(ctx, 'RunInstances', async () => {
      const existing = await this.findAttempt(offer.region, labels, clientToken, ctx);
      if (existing) {
        this.log.info(
          { instanceId: existing.InstanceId, workflowId: labels.workflowId, attempt: labels.attempt },
          'provision: the attempt already has an instance; returning it',
        );
        return existing;
      }
      // Once sent, the create is not aborted by a cancellation (it would land at EC2 all the
      // same): it runs to its answer, so the cancelled provision returns the instance, which
      // the workflow then terminates by its id. Only the deadline bounds it.
      const res = await this.api.once({ location }, (abortSignal) =>
        this.api.client(offer.region).send(new RunInstancesCommand(input), { abortSignal }),
      );
      const launched = res.Instances?.[0];
      if (!launched?.InstanceId) {
        throw new TransientProviderError('RunInstances answered without an instance', location, 'NoInstance');
      }
      this.launchedAt.set(launched.InstanceId, Date.now());
      this.log.info(
        {
          instanceId: launched.InstanceId,
          region: offer.region,
          zone: zone.id,
          instanceType: offer.instanceType,
          spot: offer.spot,
          workflowId: labels.workflowId,
          attempt: labels.attempt,
        },
        'instance launched',
      );
      return launched;
    });
    const instance = toInstance(this.name, ec2, offer, zone);
    // The ref carries the launch time, so any worker that asks about it knows the window.
    const at = ec2.LaunchTime?.getTime() ?? this.launchedAt.get(instance.id);
    return at === undefined ? instance : { ...instance, launchedAt: new Date(at).toISOString() };
  }

  /** True while EC2 may not yet list the instance: launched (by any worker) within the window. */
  private recentlyLaunched(ref: InstanceRef): boolean {
    const carried = ref.launchedAt === undefined ? NaN : Date.parse(ref.launchedAt);
    const at = Number.isFinite(carried) ? carried : this.launchedAt.get(ref.id);
    return at !== undefined && Date.now() - at < (this.opts.launchVisibilityMs ?? 60_000);
  }

  async describe(ref: InstanceRef, signal?: AbortSignal): Promise<InstanceState> {
    const ctx: CallContext = { location: this.location(ref.region, ref.zone), signal };
    try {
      const res = await this.api.call(ctx, 'DescribeInstances', (abortSignal) =>
        this.api
          .client(ref.region)
          .send(new DescribeInstancesCommand({ InstanceIds: [ref.id] }), { abortSignal }),
      );
      const inst = instancesOf(res).find((i) => i.InstanceId === ref.id);
      if (inst) return instanceStateOf(inst);
    } catch (err) {
      if (!(err instanceof ProviderError && err.code === 'InvalidInstanceID.NotFound')) throw err;
    }
    return this.recentlyLaunched(ref) ? 'pending' : 'not-found';
  }

  /**
   * One DescribeInstances per region (per 200 ids, the most one filter takes), filtered by
   * instance id so an id EC2 no longer knows does not fail the call (as InstanceIds would).
   */
  async describeMany(refs: InstanceRef[], signal?: AbortSignal): Promise<Map<string, InstanceState>> {
    const out = new Map<string, InstanceState>();
    const byRegion = new Map<string, InstanceRef[]>();
    for (const r of refs) byRegion.set(r.region, [...(byRegion.get(r.region) ?? []), r]);
    await Promise.all(
      [...byRegion].map(async ([region, inRegion]) => {
        // One region failing leaves only its own instances untold.
        try {
          for (let i = 0; i < inRegion.length; i += DESCRIBE_FILTER_MAX) {
            const chunk = inRegion.slice(i, i + DESCRIBE_FILTER_MAX);
            const seen = await this.statesIn(
              region,
              chunk.map((r) => r.id),
              signal,
            );
            for (const r of chunk) {
              out.set(r.id, seen.get(r.id) ?? (this.recentlyLaunched(r) ? 'pending' : 'not-found'));
            }
          }
        } catch (err) {
          this.log.warn({ region, err: (err as Error).message }, 'describe failed; not counted');
        }
      }),
    );
    return out;
  }

  /** The states of the instances EC2 lists among `ids` in a region (paged). */
  private async statesIn(
    region: string,
    ids: string[],
    signal?: AbortSignal,
  ): Promise<Map<string, InstanceState>> {
    const ctx: CallContext = { location: this.location(region), signal };
    const seen = new Map<string, InstanceState>();
    let token: string | undefined;
    do {
      const res = await this.api.call(ctx, 'DescribeInstances', (abortSignal) =>
        this.api.client(region).send(
          new DescribeInstancesCommand({
            Filters: [{ Name: 'instance-id', Values: ids }],
            NextToken: token,
          }),
          { abortSignal },
        ),
      );
      for (const inst of instancesOf(res))
        if (inst.InstanceId) seen.set(inst.InstanceId, instanceStateOf(inst));
      token = res.NextToken;
    } while (token);
    return seen;
  }

  async terminate(ref: InstanceRef, signal?: AbortSignal): Promise<void> {
    const ctx: CallContext = { location: this.location(ref.region, ref.zone), signal };
    await this.api.retrying(ctx, 'TerminateInstances', async () => {
      try {
        await this.api.once(ctx, (abortSignal) =>
          this.api
            .client(ref.region)
            .send(new TerminateInstancesCommand({ InstanceIds: [ref.id] }), { abortSignal }),
        );
        this.log.info({ instanceId: ref.id, region: ref.region }, 'instance terminating');
      } catch (err) {
        if (!(err instanceof ProviderError && err.code === 'InvalidInstanceID.NotFound')) throw err;
        if (this.recentlyLaunched(ref)) {
          // Just launched and not yet visible: "not found" here would leak it.
          throw new TransientProviderError(
            `instance ${ref.id} is not visible yet`,
            ctx.location,
            'InvalidInstanceID.NotFound',
          );
        }
      }
    });
  }

  /** Live instances (not shutting down or terminated) carrying `owner`'s tag, in every configured region. */
  async listOwned(owner: string): Promise<OwnedInstance[]> {
    const perRegion = await Promise.all(this.config.regions.map((region) => this.ownedIn(region, owner)));
    return perRegion.flat();
  }

  private async ownedIn(region: string, owner: string): Promise<OwnedInstance[]> {
    const ctx: CallContext = { location: this.location(region) };
    const found: Ec2Instance[] = [];
    let token: string | undefined;
    do {
      const res = await this.api.call(ctx, 'DescribeInstances', (abortSignal) =>
        this.api.client(region).send(
          new DescribeInstancesCommand({
            Filters: [
              { Name: `tag:${AWS_TAGS.owner}`, Values: [owner] },
              { Name: 'instance-state-name', Values: LIVE_STATES },
            ],
            MaxResults: 1000,
            NextToken: token,
          }),
          { abortSignal },
        ),
      );
      found.push(...instancesOf(res));
      token = res.NextToken;
    } while (token);
    let zones: AwsZone[] = [];
    if (found.some((i) => !i.Placement?.AvailabilityZoneId)) {
      // Older answers name the zone only; refs use AZ ids like the catalog does.
      zones = await this.regionInfo.zones(region, ctx).catch(() => []);
    }
    return found.map((i) => {
      const zoneName = i.Placement?.AvailabilityZone ?? '';
      return {
        provider: this.name,
        id: i.InstanceId!,
        region,
        zone: i.Placement?.AvailabilityZoneId ?? zones.find((z) => z.name === zoneName)?.id ?? zoneName,
        labels: ownerOfTags(i.Tags),
        launchedAt: i.LaunchTime?.toISOString(),
      };
    });
  }

  /** Per configured region: credentials, zones and image (see {@link checkAwsRegions}). */
  checkRegions(signal?: AbortSignal): Promise<AwsCheckResult> {
    return checkAwsRegions(this.name, this.api, this.regionInfo, signal);
  }

  async check(signal?: AbortSignal): Promise<ProviderCheck> {
    return awsCheckReport(await this.checkRegions(signal));
  }

  /** Closes the EC2 clients' sockets. */
  close(): void {
    this.api.destroy();
  }
}

/** The most values one DescribeInstances filter takes. */
const DESCRIBE_FILTER_MAX = 200;
