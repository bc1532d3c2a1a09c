/**
 * What `driftless check` reports for AWS (as `sky check` does): per configured region, whether it
 * answers, whether the credentials are accepted and whether the configured image resolves.
 * Launches nothing.
 */
import { DescribeRegionsCommand } from '@aws-sdk/client-ec2';
import type { CheckOptions, CredentialsVerdict, PlaceCheck, ProviderCheck } from '../check';
import { checkLogger, checkPlaces, checkReport } from '../check';
import { ProviderUnavailableError } from '../errors';
import { AwsApi, type AwsCredentials, type CallContext, type Ec2ClientFactory } from './api';
import { AWS_PROVIDER, type AwsProviderConfig } from './config';
import { awsErrorCode } from './errors';
import { AwsRegionInfo, type AwsZone } from './region-info';

/** What `check` learnt about one region. */
export interface AwsRegionCheck extends PlaceCheck {
  region: string;
  /** The region answered, the credentials were accepted and the image resolved. */
  ok: boolean;
  /** The region answered DescribeRegions: the credentials are accepted there. */
  credentialsAccepted: boolean;
  zones?: AwsZone[];
  image?: { id: string; name?: string };
}

/** Outcome of {@link checkAws}. */
export interface AwsCheckResult {
  provider: string;
  ok: boolean;
  credentials: CredentialsVerdict;
  regions: AwsRegionCheck[];
}

/**
 * For each configured region: do the credentials work (DescribeRegions), does the region answer
 * (DescribeAvailabilityZones), and does the configured image resolve. Never throws for a
 * region's failure; it is reported in that region's entry.
 */
export async function checkAwsRegions(
  provider: string,
  api: AwsApi,
  info: AwsRegionInfo,
  signal?: AbortSignal,
): Promise<AwsCheckResult> {
  const entries = api.config.regions.map((region): AwsRegionCheck => ({
    region,
    ok: false,
    credentialsAccepted: false,
  }));
  const { places: regions, credentials } = await checkPlaces(
    entries,
    async (out) => {
      const { region } = out;
      const ctx: CallContext = { location: { provider, region }, signal };
      const res = await api.call(ctx, 'DescribeRegions', (abortSignal) =>
        api.client(region).send(new DescribeRegionsCommand({ RegionNames: [region] }), { abortSignal }),
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
      out.zones = await info.zones(region, ctx);
      const image = await info.image(region, ctx);
      out.image = { id: image.id, name: image.name };
    },
    awsErrorCode,
  );
  return { provider, ok: regions.every((r) => r.ok), credentials, regions };
}

/** The detailed check as `driftless check` shows it. */
export function awsCheckReport(r: AwsCheckResult): ProviderCheck {
  return checkReport(
    { provider: r.provider, ok: r.ok, detail: `credentials ${r.credentials}` },
    r.regions,
    (g) => ({
      region: g.region,
      okDetail: `${g.zones?.length ?? 0} zones, image ${g.image?.id ?? '?'}`,
    }),
  );
}

export interface CheckAwsOptions extends CheckOptions {
  /** @default the SDK's default credential chain */
  credentials?: AwsCredentials;
  clientFactory?: Ec2ClientFactory;
}

/** Checks an AWS configuration with clients made for it alone (see {@link checkAwsRegions}). */
export async function checkAws(
  config: AwsProviderConfig,
  opts: CheckAwsOptions = {},
): Promise<AwsCheckResult> {
  const api = new AwsApi({
    config,
    logger: checkLogger(opts),
    credentials: opts.credentials,
    clientFactory: opts.clientFactory,
  });
  try {
    return await checkAwsRegions(AWS_PROVIDER, api, new AwsRegionInfo(api, config), opts.signal);
  } finally {
    api.destroy();
  }
}
