import { BUNDLED_PROVIDERS, locateCatalogs } from '../../catalog/catalog';
import { describePrices, staleCatalogWarnings, type CatalogProvenance } from '../../catalog/provenance';
import type { Config } from '../../config/config';
import { createLogger } from '../../logger';
import { gatherOffers } from '../../placement/place';
import { offerLabel, rankOffers } from '../../placement/rank';
import { createProviders } from '../../providers/registry';
import type { WorkloadSpec } from '../../spec/workload-spec';

/** What placement would choose now, as `apply` shows it before starting. */
export interface Plan {
  /** The best offer first, then the next few. */
  candidates: Array<{ offer: string; pricePerHour: number; spot: boolean }>;
  /** How many offers fit in all. */
  fits: number;
  passedOver: number;
  /** Providers that could not list their offers. */
  errors: string[];
  /** The catalogs the configured AWS/GCP providers price from, with their dates. */
  catalogs: CatalogProvenance[];
  /** "prices: aws catalog updated 2026-11-30 (2 days old), ..."; absent without catalogs. */
  prices?: string;
  /** One line per catalog older than catalog.maxAge. */
  catalogWarnings: string[];
}

/**
 * Ranks the configured providers' offers for the spec, as the worker's place activity will
 * (blocked locations aside: those live in the workflow).
 */
export async function planFor(spec: WorkloadSpec, config: Config, shown = 4): Promise<Plan> {
  const providers = await createProviders(config, createLogger({}, 'warn'));
  const { offers, providerErrors: errors } = await gatherOffers(providers.values());
  const now = Date.now();
  const placement = rankOffers(spec, offers, [], now);
  // Only catalog-backed providers that are configured; a catalog that cannot be found was
  // already reported by its provider in `errors`.
  const catalogs = await locateCatalogs({
    dir: config.catalogDir,
    providers: [...providers.keys()].filter((p) => BUNDLED_PROVIDERS.includes(p)),
  }).catch(() => []);
  const prices = describePrices(catalogs, now);
  return {
    candidates: placement.ranked
      .slice(0, shown)
      .map((o) => ({ offer: offerLabel(o), pricePerHour: o.pricePerHour, spot: o.spot })),
    fits: placement.ranked.length,
    passedOver: placement.rejected.length,
    errors,
    catalogs,
    ...(prices ? { prices } : {}),
    catalogWarnings: staleCatalogWarnings(catalogs, config.catalog.maxAgeMs, now),
  };
}
