/**
 * What a region offers a launch: its availability zones, the image it launches from and the
 * configured subnets. Each is described once and kept a while.
 */
import {
  DescribeAvailabilityZonesCommand,
  DescribeImagesCommand,
  DescribeSubnetsCommand,
} from '@aws-sdk/client-ec2';
import { CapacityError, InvalidRequestError } from '../errors';
import type { AwsApi, CallContext } from './api';
import type { AwsProviderConfig } from './config';

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

/** Zones, images and subnets of the configured regions, described through `api` and cached. */
export class AwsRegionInfo {
  private readonly zoneCache = new TtlCache<AwsZone[]>();
  private readonly imageCache = new TtlCache<AwsImage>();
  private readonly subnetCache = new TtlCache<Map<string, string>>();

  constructor(
    private readonly api: AwsApi,
    private readonly config: AwsProviderConfig,
  ) {}

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
   * AZ id -> zone name of this account, for the regions that answer within `waitMs` (cached
   * like {@link zones}); a region that does not answer in time gives no names, so listing offers
   * never waits out an outage.
   */
  async zoneNames(
    regions: string[],
    ctxOf: (region: string) => CallContext,
    waitMs = 3000,
  ): Promise<Map<string, string>> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<AwsZone[]>((r) => (timer = setTimeout(() => r([]), waitMs)));
    const described = await Promise.all(
      regions.map((region) => Promise.race([this.zones(region, ctxOf(region)).catch(() => []), late])),
    );
    clearTimeout(timer);
    return new Map(described.flat().map((z) => [z.id, z.name]));
  }

  /**
   * The zone named by an offer (an AZ id from the catalog, or a name from a custom catalog). A
   * zone this account cannot use is a capacity failure of that zone: failover moves on.
   */
  async zoneOf(region: string, zone: string, ctx: CallContext): Promise<AwsZone> {
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
  async subnets(region: string, ctx: CallContext): Promise<Map<string, string>> {
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
}
