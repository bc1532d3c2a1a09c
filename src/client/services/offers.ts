import { loadCatalog } from '../../catalog/catalog';
import type { Config } from '../../config/config';
import type { Logger } from '../../logger';
import { gatherOffers } from '../../placement/place';
import { nearestMisses, rankOffers, type PlacementSpec, type RankedOffer } from '../../placement/rank';
import { createProviders } from '../../providers/registry';
import type { Offer } from '../../common/offer';
import type { CatalogProvenance } from '../../catalog/provenance';

/** One row of `driftless offers`: an offer with the price of its on-demand and spot variants. */
export interface OfferRow extends Omit<Offer, 'spot' | 'pricePerHour'> {
  /** On-demand US$/hour, when offered. */
  pricePerHour?: number;
  /** Spot US$/hour, when offered. */
  spotPricePerHour?: number;
  /** The price this row was ranked by (spot when spot was asked for). */
  rankedBy: 'on-demand' | 'spot';
  /** The alternative (anyOf/ordered, 0-based) this offer fits. */
  candidate: number;
  /** False for a catalog offer of a provider this installation has not configured: browsable, not placeable. */
  configured?: boolean;
}

export interface OffersResult {
  rows: OfferRow[];
  /** Offers that fit, before grouping and the limit. */
  matched: number;
  considered: number;
  rejected: Array<{ reason: string; count: number; example: string }>;
  nearestMisses?: Array<{ offer: string; pricePerHour: number; reasons: string[] }>;
  /** The catalogs read: where each came from and the date its prices are counted from. */
  catalogs: Array<
    { provider: string; file: string; offers: number } & Omit<CatalogProvenance, 'file' | 'provider'>
  >;
  /** Configured providers that could not list their offers ("<provider>: <message>"); absent when none. */
  providerErrors?: string[];
  /** Providers whose catalog offers are shown but which are not configured; absent when none. */
  unconfigured?: string[];
}

const twinKey = (o: Offer) => [o.provider, o.zone, o.instanceType, o.gpuType ?? '', o.gpuCount].join('|');

/**
 * Every offer driftless knows: each configured provider's own (AWS filtered to its regions,
 * local pools), and the catalogs of providers not configured, so they can be browsed too. A
 * configured provider that cannot list its offers is named in `providerErrors`.
 */
export async function allOffers(config: Config, logger: Logger) {
  const catalog = await loadCatalog({ dir: config.catalogDir });
  const providers = await createProviders(config, logger);
  const gathered = await gatherOffers(providers.values());
  return {
    offers: [...catalog.offers.filter((o) => !providers.has(o.provider)), ...gathered.offers],
    /** Providers whose catalog offers are listed although they are not configured (apply cannot use them). */
    unconfigured: [...new Set(catalog.offers.map((o) => o.provider))].filter((p) => !providers.has(p)),
    providerErrors: gathered.providerErrors,
    catalogs: catalog.sources.map((s) => ({
      provider: s.provider,
      file: s.file,
      offers: s.offers,
      kind: s.kind,
      ...(s.asOf !== undefined ? { asOf: s.asOf } : {}),
      ...(s.source !== undefined ? { source: s.source } : {}),
    })),
  };
}

/** Ranks `offers` for the spec and shapes the result for people and for --json. */
export function explainOffers(
  spec: PlacementSpec,
  offers: Offer[],
  now: number,
  limit: number,
): Omit<OffersResult, 'catalogs'> {
  const placement = rankOffers(spec, offers, [], now);
  const prices = new Map<string, { od?: number; spot?: number }>();
  for (const o of offers) {
    const p = prices.get(twinKey(o)) ?? {};
    if (o.spot) p.spot = o.pricePerHour;
    else p.od = o.pricePerHour;
    prices.set(twinKey(o), p);
  }
  const seen = new Set<string>();
  const rows: OfferRow[] = [];
  for (const o of placement.ranked as RankedOffer[]) {
    const key = twinKey(o);
    if (seen.has(key)) continue;
    seen.add(key);
    const p = prices.get(key)!;
    rows.push({
      provider: o.provider,
      region: o.region,
      zone: o.zone,
      ...(o.zoneName ? { zoneName: o.zoneName } : {}),
      instanceType: o.instanceType,
      gpuType: o.gpuType,
      gpuCount: o.gpuCount,
      gpuMemoryGb: o.gpuMemoryGb,
      vcpus: o.vcpus,
      memoryGb: o.memoryGb,
      pricePerHour: p.od,
      spotPricePerHour: p.spot,
      rankedBy: o.spot ? 'spot' : 'on-demand',
      candidate: o.candidate,
    });
    if (limit > 0 && rows.length >= limit) break;
  }
  const groups = new Map<string, { count: number; example: string }>();
  for (const r of placement.rejected) {
    const g = groups.get(r.reason);
    if (g) g.count++;
    else
      groups.set(r.reason, {
        count: 1,
        example: `${r.offer.provider}/${r.offer.zone} ${r.offer.instanceType}`,
      });
  }
  const rejected = [...groups.entries()]
    .map(([reason, g]) => ({ reason, ...g }))
    .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1));
  const result: Omit<OffersResult, 'catalogs'> = {
    rows,
    matched: placement.ranked.length,
    considered: offers.length,
    rejected,
  };
  if (placement.ranked.length === 0) {
    result.nearestMisses = nearestMisses(spec, offers, [], now, 5).map((m) => ({
      offer: `${m.offer.provider}/${m.offer.zone} ${m.offer.instanceType}${m.offer.spot ? ' (spot)' : ''}${
        m.offer.gpuType ? ` ${m.offer.gpuCount}x ${m.offer.gpuType}` : ''
      }`,
      pricePerHour: m.offer.pricePerHour,
      reasons: m.reasons,
    }));
  }
  return result;
}
