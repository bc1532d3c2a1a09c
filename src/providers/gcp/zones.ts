/** Which zones a GCP configuration covers: those it names, and every catalog zone of its regions. */
import { loadCatalog } from '../../catalog/catalog';
import type { Offer } from '../types';
import { GCP_PROVIDER, type GcpProviderConfig } from './config';

/** Where the GCP offers come from. */
export interface GcpCatalogSource {
  /** Offers to use instead of the catalog (tests). @default the gcp catalog */
  catalogOffers?: Offer[];
  /** A SkyPilot-format catalog directory replacing the bundled gcp.csv. @default the bundled file */
  catalogDir?: string;
}

/** The GCP offers of the catalog. */
export async function gcpCatalog(source: GcpCatalogSource): Promise<Offer[]> {
  return (
    source.catalogOffers ?? (await loadCatalog({ providers: [GCP_PROVIDER], dir: source.catalogDir })).offers
  ).filter((o) => o.provider === GCP_PROVIDER);
}

/** The configured zones, sorted: `zones`, and every catalog zone of `regions`. */
export async function configuredZones(
  config: GcpProviderConfig,
  catalog: () => Promise<Offer[]>,
): Promise<string[]> {
  const zones = new Set(config.zones ?? []);
  if (config.regions) {
    const regions = new Set(config.regions);
    for (const o of await catalog()) if (regions.has(o.region)) zones.add(o.zone);
  }
  return [...zones].sort();
}
