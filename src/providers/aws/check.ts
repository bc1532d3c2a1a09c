import pino from 'pino';
import type { Logger } from 'pino';
import type { AwsCredentials, Ec2ClientFactory } from './api';
import { AwsProvider, type AwsCheckResult } from './aws-provider';
import type { AwsProviderConfig } from './config';

export interface CheckAwsOptions {
  /** @default a silent logger */
  logger?: Logger;
  /** @default the SDK's default credential chain */
  credentials?: AwsCredentials;
  clientFactory?: Ec2ClientFactory;
  signal?: AbortSignal;
}

/**
 * What `driftless check` reports for AWS (as `sky check` does): per configured region, whether it
 * answers, whether the credentials are accepted and whether the configured image resolves.
 * Launches nothing.
 */
export async function checkAws(
  config: AwsProviderConfig,
  opts: CheckAwsOptions = {},
): Promise<AwsCheckResult> {
  const provider = new AwsProvider({
    config,
    owner: 'driftless-check',
    logger: opts.logger ?? pino({ level: 'silent' }),
    credentials: opts.credentials,
    clientFactory: opts.clientFactory,
  });
  try {
    return await provider.check(opts.signal);
  } finally {
    provider.close();
  }
}
