/** The AWS line of the provider registry. */
import type { ProviderEntry } from '../provider-entry';
import { AwsProviderConfig } from './config';

export const awsEntry: ProviderEntry<typeof AwsProviderConfig> = {
  configSchema: AwsProviderConfig,
  async create(config, ctx) {
    const { AwsProvider } = await import('./aws-provider');
    return new AwsProvider({ config, owner: ctx.owner, logger: ctx.logger, catalogDir: ctx.catalogDir });
  },
  async check(config, _ctx, signal) {
    const { awsCheckReport, checkAws } = await import('./check');
    return awsCheckReport(await checkAws(config, { signal }));
  },
};
