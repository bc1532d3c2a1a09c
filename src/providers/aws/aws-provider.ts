import { createHash } from 'node:crypto';
import {
  DescribeAvailabilityZonesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeRegionsCommand,
  DescribeSubnetsCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type Instance as Ec2Instance,
  type RunInstancesCommandInput,
  type Tag,
} from '@aws-sdk/client-ec2';
import type { Logger } from 'pino';
import { loadCatalog } from '../../catalog/catalog';
import {
  CapacityError,
  InvalidRequestError,
  checkOwner,
  ProviderError,
  ProviderUnavailableError,
  TransientProviderError,
} from '../errors';
import type {
  Instance,
  InstanceOwner,
  InstanceRef,
  InstanceState,
  Location,
  Offer,
  Provider,
  ProvisionRequest,
} from '../types';
import { deadManEnvValue } from '../types';
import { AwsApi, type AwsCredentials, type CallContext, type Ec2ClientFactory } from './api';
import type { AwsProviderConfig } from './config';
import { awsErrorCode } from './errors';
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
   * How long after this process launched an instance a "not found" is taken for EC2's eventual
   * consistency rather than for a gone instance. @default 60000
   */
  launchVisibilityMs?: number;
}

/** Tag keys every instance and its volumes carry from the moment they exist. */
export const AWS_TAGS = {
  owner: 'driftless:owner',
  workload: 'driftless:workload',
  workflowId: 'driftless:workflow-id',
  attempt: 'driftless:attempt',
  /**
   * The launch's ClientToken (from the idempotency key: workflow, execution, attempt, type,
   * zone): a retry adopts only an instance of its own request, never one an earlier execution
   * of the same workflow id left with the same attempt number.
   */
  request: 'driftless:request',
} as const;

const PROVIDER = 'aws';
const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];

/**
 * The ClientToken of a launch: a SHA-256 (64 hex characters, EC2's limit) over the idempotency
 * key and everything that makes the request different, so a retry gets the same instance and a
 * different request never collides with it (IdempotentParameterMismatch).
 */
export function awsClientToken(idempotencyKey: string, instanceType: string, zone: string): string {
  return createHash('sha256').update([idempotencyKey, instanceType, zone].join('\0')).digest('hex');
}

/** An availability zone as the region describes it. */
export interface AwsZone {
  /** AZ name, e.g. "us-east-1b" (differs between accounts). */
  name: string;
  /** AZ id, e.g. "use1-az1" (the same in every account; what the catalog uses). */
  id: string;
  state: string;
}

/** The image a region launches from. */
export interface AwsImage {
  id: string;
  name?: string;
  rootDeviceName: string;
}

/** What `check` learnt about one region. */
export interface AwsRegionCheck {
  region: string;
  /** The region answered, the credentials were accepted and the image resolved. */
  ok: boolean;
  /** The region answered DescribeRegions: the credentials are accepted there. */
  credentialsAccepted: boolean;
  zones?: AwsZone[];
  image?: { id: string; name?: string };
  /** Why not ok: the taxonomy class, EC2's code and a message. */
  error?: { type: string; code?: string; message: string };
}

/** Outcome of {@link AwsProvider.check}. */
export interface AwsCheckResult {
  provider: string;
  ok: boolean;
  /** "invalid" when any region refused them, "valid" when one accepted them, else "unknown". */
  credentials: 'valid' | 'invalid' | 'unknown';
  regions: AwsRegionCheck[];
}

/** Region-keyed answers kept for a while: zones get impaired and new images get published. */
class TtlCache<T> {
  private readonly entries = new Map<string, { value: T; at: number }>();
  constructor(private readonly ttlMs = 15 * 60_000) {}
  get(key: string): T | undefined {
    const e = this.entries.get(key);
    return e && Date.now() - e.at < this.ttlMs ? e.value : undefined;
  }
  set(key: string, value: T): void {
    this.entries.set(key, { value, at: Date.now() });
  }
}

function tagValue(tags: Tag[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}

function instancesOf(res: { Reservations?: Array<{ Instances?: Ec2Instance[] }> }): Ec2Instance[] {
  return (res.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}

/**
 * EC2 behind the provider interface. Instances are found by their tags, not by remembered ids:
 * a launch looks for the attempt's instance first and carries a ClientToken derived from the
 * idempotency key, so neither a retried activity nor a crash between launch and record leaves
 * two machines. Every call has a deadline and the caller's signal; transient failures are
 * retried here, everything else is classified for the workflow's failover.
 */
export class AwsProvider implements Provider {
  readonly name = PROVIDER;
  private readonly api: AwsApi;
  private readonly log: Logger;
  private readonly config: AwsProviderConfig;
  private readonly zoneCache = new TtlCache<AwsZone[]>();
  private readonly imageCache = new TtlCache<AwsImage>();
  private readonly subnetCache = new TtlCache<Map<string, string>>();
  /** Instances this process launched, by id, with the time: EC2 may not list them at once. */
  private readonly launchedAt = new Map<string, number>();

  constructor(private readonly opts: AwsProviderOptions) {
    this.config = opts.config;
    this.log = opts.logger.child({ component: 'aws-provider' });
    this.api = new AwsApi({
      config: opts.config,
      logger: opts.logger,
      credentials: opts.credentials,
      clientFactory: opts.clientFactory,
    });
  }

  private location(region: string, zone?: string): Location {
    return zone === undefined ? { provider: PROVIDER, region } : { provider: PROVIDER, region, zone };
  }

  /** Catalog offers in the configured regions (and, where subnets are configured, their zones). */
  async offers(): Promise<Offer[]> {
    const all =
      this.opts.catalogOffers ??
      (await loadCatalog({ providers: [PROVIDER], dir: this.opts.catalogDir })).offers;
    const regions = new Set(this.config.regions);
    const mine = all.filter((o) => o.provider === PROVIDER && regions.has(o.region));
    const subnetZones = new Map<string, Set<string>>();
    for (const region of this.config.regions) {
      if (this.config.network[region]?.subnetIds) {
        const byZone = await this.subnets(region, { location: this.location(region) });
        subnetZones.set(region, new Set(byZone.keys()));
      }
    }
    return mine
      .filter((o) => subnetZones.get(o.region)?.has(o.zone) ?? true)
      .map((o) => ({ ...o, provider: this.name }));
  }

  /** The region's zones, described once. */
  async zones(region: string, ctx: CallContext): Promise<AwsZone[]> {
    const cached = this.zoneCache.get(region);
    if (cached) return cached;
    const res = await this.api.call(ctx, 'DescribeAvailabilityZones', (abortSignal) =>
      this.api.client(region).send(new DescribeAvailabilityZonesCommand({}), { abortSignal }),
    );
    const zones = (res.AvailabilityZones ?? [])
      .filter(
        (z) => z.ZoneName && z.ZoneId && (z.ZoneType === undefined || z.ZoneType === 'availability-zone'),
      )
      .map((z) => ({ name: z.ZoneName!, id: z.ZoneId!, state: z.State ?? 'available' }));
    this.zoneCache.set(region, zones);
    return zones;
  }

  /**
   * The zone named by an offer (an AZ id from the catalog, or a name from a custom catalog). A
   * zone this account cannot use is a capacity failure of that zone: failover moves on.
   */
  private async zoneOf(region: string, zone: string, ctx: CallContext): Promise<AwsZone> {
    const z = (await this.zones(region, ctx)).find((x) => x.id === zone || x.name === zone);
    if (!z || z.state !== 'available') {
      throw new CapacityError(
        `zone ${zone} in ${region} is ${z ? z.state : 'not available to this account'}`,
        ctx.location,
        'ZoneNotAvailable',
      );
    }
    return z;
  }

  /** The region's image: an AMI id as given, or the newest image of that name among the owners. */
  async image(region: string, ctx: CallContext): Promise<AwsImage> {
    const cached = this.imageCache.get(region);
    if (cached) return cached;
    const wanted = this.config.images[region];
    if (!wanted) throw new InvalidRequestError(`no image configured for ${region}`, ctx.location, 'NoImage');
    const byId = /^ami-[0-9a-f]+$/.test(wanted);
    const res = await this.api.call(ctx, 'DescribeImages', (abortSignal) =>
      this.api.client(region).send(
        new DescribeImagesCommand(
          byId
            ? { ImageIds: [wanted] }
            : {
                Owners: this.config.imageOwners,
                Filters: [
                  { Name: 'name', Values: [wanted] },
                  { Name: 'state', Values: ['available'] },
                ],
              },
        ),
        { abortSignal },
      ),
    );
    const newest = (res.Images ?? [])
      .filter((i) => i.ImageId && i.RootDeviceName)
      .sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''))[0];
    if (!newest) {
      throw new InvalidRequestError(
        byId
          ? `image ${wanted} not found in ${region}`
          : `no available image named "${wanted}" owned by ${this.config.imageOwners.join(', ')} in ${region}`,
        ctx.location,
        'ImageNotFound',
      );
    }
    const image = { id: newest.ImageId!, name: newest.Name, rootDeviceName: newest.RootDeviceName! };
    this.imageCache.set(region, image);
    return image;
  }

  /** Configured subnets of a region by AZ id. */
  private async subnets(region: string, ctx: CallContext): Promise<Map<string, string>> {
    const cached = this.subnetCache.get(region);
    if (cached) return cached;
    const ids = this.config.network[region]?.subnetIds ?? [];
    const res = await this.api.call(ctx, 'DescribeSubnets', (abortSignal) =>
      this.api.client(region).send(new DescribeSubnetsCommand({ SubnetIds: ids }), { abortSignal }),
    );
    const byZone = new Map<string, string>();
    for (const s of res.Subnets ?? []) {
      if (s.SubnetId && s.AvailabilityZoneId && !byZone.has(s.AvailabilityZoneId)) {
        byZone.set(s.AvailabilityZoneId, s.SubnetId);
      }
    }
    this.subnetCache.set(region, byZone);
    return byZone;
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
            { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
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

  private userData(req: ProvisionRequest): string {
    return buildUserData({
      temporalAddress: req.agent.address,
      temporalNamespace: req.agent.namespace,
      workload: req.labels.workload,
      agentInstall: this.config.agentInstall,
      agentCommand: this.config.agentCommand,
      deadManTimeout: deadManEnvValue(req.agent),
    });
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
    const zone = await this.zoneOf(offer.region, offer.zone, ctx);
    const image = await this.image(offer.region, ctx);
    let subnetId: string | undefined;
    if (this.config.network[offer.region]?.subnetIds) {
      subnetId = (await this.subnets(offer.region, ctx)).get(zone.id);
      if (!subnetId) {
        throw new CapacityError(
          `none of the configured subnets of ${offer.region} is in zone ${zone.id}`,
          location,
          'NoSubnetInZone',
        );
      }
    }
    const userData = this.userData(req);
    if (Buffer.byteLength(userData, 'base64') > MAX_USER_DATA_BYTES) {
      throw new InvalidRequestError('the agent boot script is over 16 KiB', location, 'UserDataTooLarge');
    }
    const clientToken = awsClientToken(req.idempotencyKey, offer.instanceType, zone.id);
    const tags: Tag[] = [
      { Key: AWS_TAGS.owner, Value: labels.owner },
      { Key: AWS_TAGS.workload, Value: labels.workload },
      { Key: AWS_TAGS.workflowId, Value: labels.workflowId },
      { Key: AWS_TAGS.attempt, Value: String(labels.attempt) },
      { Key: AWS_TAGS.request, Value: clientToken },
      { Key: 'Name', Value: `driftless-${labels.workload}-${labels.attempt}` },
    ];
    const input: RunInstancesCommandInput = {
      ClientToken: clientToken,
      ImageId: image.id,
      InstanceType: offer.instanceType as RunInstancesCommandInput['InstanceType'],
      MinCount: 1,
      MaxCount: 1,
      Placement: { AvailabilityZone: zone.name },
      SubnetId: subnetId,
      SecurityGroupIds: this.config.network[offer.region]?.securityGroupIds,
      KeyName: this.config.keyName,
      BlockDeviceMappings: [
        {
          DeviceName: image.rootDeviceName,
          Ebs: {
            VolumeSize: this.config.rootDiskGb,
            VolumeType: this.config.rootVolumeType,
            DeleteOnTermination: true,
          },
        },
      ],
      InstanceMarketOptions: offer.spot
        ? {
            MarketType: 'spot',
            SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' },
          }
        : undefined,
      // A job that powers the machine off stops the bill too.
      InstanceInitiatedShutdownBehavior: 'terminate',
      MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
      UserData: userData,
      // Tagged in the create call itself: no window in which an instance exists unowned.
      TagSpecifications: [
        { ResourceType: 'instance', Tags: tags },
        { ResourceType: 'volume', Tags: tags },
      ],
    };

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
      const res = await this.api.once(ctx, (abortSignal) =>
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
    return this.toInstance(ec2, offer, zone);
  }

  private toInstance(i: Ec2Instance, offer: Offer, zone: AwsZone): Instance {
    return {
      provider: this.name,
      id: i.InstanceId!,
      region: offer.region,
      zone: zone.id,
      offer,
      address: i.PublicIpAddress ?? i.PrivateIpAddress,
      state: instanceStateOf(i),
      details: {
        zoneName: i.Placement?.AvailabilityZone ?? zone.name,
        instanceType: i.InstanceType,
        imageId: i.ImageId,
        privateIp: i.PrivateIpAddress,
        publicIp: i.PublicIpAddress,
        lifecycle: i.InstanceLifecycle ?? 'on-demand',
        launchTime: i.LaunchTime?.toISOString(),
      },
    };
  }

  /** True while EC2 may not yet list an instance this process launched. */
  private recentlyLaunched(id: string): boolean {
    const at = this.launchedAt.get(id);
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
    return this.recentlyLaunched(ref.id) ? 'pending' : 'not-found';
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
        if (this.recentlyLaunched(ref.id)) {
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
  async listOwned(owner: string): Promise<Array<InstanceRef & { labels?: Partial<InstanceOwner> }>> {
    const perRegion = await Promise.all(
      this.config.regions.map(async (region) => {
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
          zones = await this.zones(region, ctx).catch(() => []);
        }
        return found.map((i) => {
          const zoneName = i.Placement?.AvailabilityZone ?? '';
          const attempt = Number(tagValue(i.Tags, AWS_TAGS.attempt));
          return {
            provider: this.name,
            id: i.InstanceId!,
            region,
            zone: i.Placement?.AvailabilityZoneId ?? zones.find((z) => z.name === zoneName)?.id ?? zoneName,
            labels: {
              owner: tagValue(i.Tags, AWS_TAGS.owner),
              workload: tagValue(i.Tags, AWS_TAGS.workload),
              workflowId: tagValue(i.Tags, AWS_TAGS.workflowId),
              attempt: Number.isInteger(attempt) ? attempt : undefined,
            },
          };
        });
      }),
    );
    return perRegion.flat();
  }

  /**
   * For each configured region: do the credentials work (DescribeRegions), does the region answer
   * (DescribeAvailabilityZones), and does the configured image resolve. Never throws for a
   * region's failure; it is reported in that region's entry.
   */
  async check(signal?: AbortSignal): Promise<AwsCheckResult> {
    const regions = await Promise.all(
      this.config.regions.map(async (region): Promise<AwsRegionCheck> => {
        const ctx: CallContext = { location: this.location(region), signal };
        const out: AwsRegionCheck = { region, ok: false, credentialsAccepted: false };
        try {
          const res = await this.api.call(ctx, 'DescribeRegions', (abortSignal) =>
            this.api.client(region).send(new DescribeRegionsCommand({ RegionNames: [region] }), {
              abortSignal,
            }),
          );
          out.credentialsAccepted = true;
          if (res.Regions?.[0]?.OptInStatus === 'not-opted-in') {
            throw new ProviderUnavailableError(
              `region ${region} is not enabled for this account (opt in under Account settings)`,
              ctx.location,
              'OptInRequired',
              'region',
            );
          }
          out.zones = await this.zones(region, ctx);
          const image = await this.image(region, ctx);
          out.image = { id: image.id, name: image.name };
          out.ok = true;
        } catch (err) {
          const e = err instanceof ProviderError ? err : undefined;
          out.error = {
            type: e?.name ?? 'Error',
            code: e?.code ?? awsErrorCode(err),
            message: (err as Error).message,
          };
        }
        return out;
      }),
    );
    const refused = regions.some((r) => r.error?.type === 'AuthError');
    const accepted = regions.some((r) => r.credentialsAccepted);
    return {
      provider: this.name,
      ok: regions.every((r) => r.ok),
      credentials: refused ? 'invalid' : accepted ? 'valid' : 'unknown',
      regions,
    };
  }

  /** Closes the EC2 clients' sockets. */
  close(): void {
    this.api.destroy();
  }
}
