/**
 * What `driftless check` reports for GCP: per configured zone, whether it answers, whether the
 * credentials are accepted and whether the zone is UP. Creates nothing.
 */
import type { CheckOptions, CredentialsVerdict, PlaceCheck, ProviderCheck } from '../check';
import { checkLogger, checkPlaces, checkReport } from '../check';
import { ProviderUnavailableError } from '../errors';
import { CALL_OPTIONS, GcpApi, type CallContext, type GcpClientOptions } from './api';
import { GCP_PROVIDER, regionOfZone, type GcpProviderConfig } from './config';
import { configuredZones, gcpCatalog } from './zones';

/** What `check` learnt about one zone. */
export interface GcpZoneCheck extends PlaceCheck {
  zone: string;
  region: string;
  /** The zone answered, the credentials were accepted and the zone is UP. */
  ok: boolean;
  /** The zone answered ZonesClient.get: the credentials are accepted in the project. */
  credentialsAccepted: boolean;
  /** The zone's status as GCE reports it ("UP", "DOWN"). */
  status?: string;
}

/** Outcome of {@link checkGcp}. */
export interface GcpCheckResult {
  provider: string;
  project: string;
  ok: boolean;
  credentials: CredentialsVerdict;
  zones: GcpZoneCheck[];
}

/**
 * For each zone: does it answer (ZonesClient.get), are the credentials accepted, is it UP. Never
 * throws for a zone's failure; it is reported in that zone's entry.
 */
export async function checkGcpZones(
  provider: string,
  api: GcpApi,
  config: GcpProviderConfig,
  zoneNames: string[],
  signal?: AbortSignal,
): Promise<GcpCheckResult> {
  const entries = zoneNames.map((zone): GcpZoneCheck => ({
    zone,
    region: regionOfZone(zone),
    ok: false,
    credentialsAccepted: false,
  }));
  const { places: zones, credentials } = await checkPlaces(entries, async (out) => {
    const { zone } = out;
    const ctx: CallContext = { location: { provider, region: out.region, zone }, signal };
    const [z] = await api.call(ctx, 'zones.get', () =>
      api.zones.get({ project: config.project, zone }, CALL_OPTIONS),
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
  });
  return {
    provider,
    project: config.project,
    ok: zones.length > 0 && zones.every((z) => z.ok),
    credentials,
    zones,
  };
}

/** The detailed check as `driftless check` shows it. */
export function gcpCheckReport(r: GcpCheckResult): ProviderCheck {
  const head = {
    provider: r.provider,
    ok: r.ok,
    detail: `project ${r.project}, credentials ${r.credentials}`,
  };
  return checkReport(head, r.zones, (z) => ({
    region: z.region,
    zone: z.zone,
    okDetail: `zone ${z.status}`,
  }));
}

export interface CheckGcpOptions extends CheckOptions {
  /** Replaces parts of the client options. @default from the config */
  clientOptions?: Partial<GcpClientOptions>;
  /** A SkyPilot-format catalog directory (for the zones of configured regions). @default the bundled one */
  catalogDir?: string;
}

/** Checks a GCP configuration with clients made for it alone (see {@link checkGcpZones}). */
export async function checkGcp(
  config: GcpProviderConfig,
  opts: CheckGcpOptions = {},
): Promise<GcpCheckResult> {
  const api = new GcpApi({ config, logger: checkLogger(opts), clientOptions: opts.clientOptions });
  try {
    const zones = await configuredZones(config, () => gcpCatalog({ catalogDir: opts.catalogDir }));
    return await checkGcpZones(GCP_PROVIDER, api, config, zones, opts.signal);
  } finally {
    await api.close();
  }
}
