/** The AWS line of the provider registry. */
import { defineProvider } from '../provider-entry';
import { AwsProviderConfig } from './config';

export const awsEntry = defineProvider({
  agentSecrets: 'aws',
  configSchema: AwsProviderConfig,
  async create(config, ctx) {
    const { AwsProvider } = await import('./aws-provider');
    return new AwsProvider({ config, owner: ctx.owner, logger: ctx.logger, catalogDir: ctx.catalogDir });
  },
});
