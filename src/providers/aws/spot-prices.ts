/**
 * Live spot prices (`providers.aws.livePrices: spot`): the latest DescribeSpotPriceHistory price
 * of each instance type in each zone, kept a few minutes per region, so that spot offers are
 * ranked on what EC2 charges now rather than on the catalog's snapshot. Any failure leaves the
 * catalog's prices; listing offers never waits longer than {@link LIVE_SPOT_WAIT_MS} for them.
 */
import { DescribeSpotPriceHistoryCommand, type _InstanceType, type SpotPrice } from '@aws-sdk/client-ec2';
import type { Logger } from 'pino';
import type { Offer } from '../types';
import type { AwsApi, CallContext } from './api';
import type { AwsRegionInfo } from './region-info';

/** How long a region's prices are reused. */
export const LIVE_SPOT_TTL_MS = 5 * 60_000;
/** How long listing offers waits for a region's prices before it uses the catalog's. */
export const LIVE_SPOT_WAIT_MS = 3000;
/** Spot prices of Linux instances: "Linux/UNIX", or with "(Amazon VPC)" on older accounts. */
const PRODUCTS = ['Linux/UNIX', 'Linux/UNIX (Amazon VPC)'];
/** A bound on pages, so a misbehaving endpoint cannot keep a placement busy. */
const MAX_PAGES = 50;

/** `<instance type>|<zone>`; the zone is both the AZ id and this account's name for it. */
const key = (instanceType: string, zone: string) => `${instanceType}|${zone}`;

export interface AwsSpotPricesOptions {
  api: AwsApi;
  regionInfo: AwsRegionInfo;
  logger: Logger;
  /** @default {@link LIVE_SPOT_TTL_MS} */
  ttlMs?: number;
  /** @default {@link LIVE_SPOT_WAIT_MS} */
  waitMs?: number;
  /** @default Date.now */
  now?: () => number;
}

export class AwsSpotPrices {
  private readonly cache = new Map<string, { at: number; prices: Promise<Map<string, number>> }>();
  private readonly log: Logger;

  constructor(private readonly opts: AwsSpotPricesOptions) {
    this.log = opts.logger.child({ component: 'aws-spot-prices' });
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** The latest price per `<type>|<zone id>` and `<type>|<zone name>` of `types` in `region`. */
  private async describe(region: string, types: string[], ctx: CallContext): Promise<Map<string, number>> {
    const latest = new Map<string, SpotPrice>();
    let token: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await this.opts.api.call(ctx, 'DescribeSpotPriceHistory', (abortSignal) =>
        this.opts.api.client(region).send(
          new DescribeSpotPriceHistoryCommand({
            // A start time of now gives the price in force now of each type and zone.
            StartTime: new Date(this.now()),
            InstanceTypes: types as _InstanceType[],
            ProductDescriptions: PRODUCTS,
            MaxResults: 1000,
            NextToken: token,
          }),
          { abortSignal },
        ),
      );
      for (const p of res.SpotPriceHistory ?? []) {
        if (!p.InstanceType || !p.AvailabilityZone || !p.SpotPrice) continue;
        const k = key(p.InstanceType, p.AvailabilityZone);
        const seen = latest.get(k);
        if (!seen || (p.Timestamp?.getTime() ?? 0) > (seen.Timestamp?.getTime() ?? 0)) latest.set(k, p);
      }
      token = res.NextToken || undefined;
      if (!token) break;
    }
    const ids = new Map((await this.opts.regionInfo.zones(region, ctx)).map((z) => [z.name, z.id]));
    const prices = new Map<string, number>();
    for (const p of latest.values()) {
      const price = Number(p.SpotPrice);
      if (!Number.isFinite(price) || price <= 0) continue;
      prices.set(key(p.InstanceType!, p.AvailabilityZone!), price);
      const id = ids.get(p.AvailabilityZone!);
      if (id) prices.set(key(p.InstanceType!, id), price);
    }
    return prices;
  }

  /** The region's prices, from the cache when they are fresh and cover `types`. */
  private region(region: string, types: string[], ctx: CallContext): Promise<Map<string, number>> {
    const cacheKey = `${region}|${types.join(',')}`;
    const hit = this.cache.get(cacheKey);
    if (hit && this.now() - hit.at < (this.opts.ttlMs ?? LIVE_SPOT_TTL_MS)) return hit.prices;
    const prices = this.describe(region, types, ctx);
    this.cache.set(cacheKey, { at: this.now(), prices });
    // A failure is not kept: the next placement asks again.
    prices.catch(() => {
      if (this.cache.get(cacheKey)?.prices === prices) this.cache.delete(cacheKey);
    });
    return prices;
  }

  /**
   * `offers` with each spot offer's price replaced by the live one of its type and zone, where
   * EC2 gave one in time. A region whose prices fail or are late keeps the catalog's, and is
   * logged.
   */
  async apply(offers: Offer[], ctxOf: (region: string) => CallContext): Promise<Offer[]> {
    const typesByRegion = new Map<string, Set<string>>();
    for (const o of offers) {
      if (!o.spot) continue;
      const set = typesByRegion.get(o.region) ?? new Set<string>();
      set.add(o.instanceType);
      typesByRegion.set(o.region, set);
    }
    if (typesByRegion.size === 0) return offers;
    const waitMs = this.opts.waitMs ?? LIVE_SPOT_WAIT_MS;
    const byRegion = new Map<string, Map<string, number>>();
    await Promise.all(
      [...typesByRegion].map(async ([region, types]) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), waitMs)));
        try {
          const got = await Promise.race([this.region(region, [...types].sort(), ctxOf(region)), late]);
          if (got === 'late') this.log.warn({ region, waitMs }, 'live spot prices late; catalog prices used');
          else byRegion.set(region, got);
        } catch (err) {
          this.log.warn(
            { region, err: (err as Error).message },
            'live spot prices failed; catalog prices used',
          );
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return offers.map((o) => {
      const live = o.spot ? byRegion.get(o.region)?.get(key(o.instanceType, o.zone)) : undefined;
      return live === undefined ? o : { ...o, pricePerHour: live };
    });
  }
}
