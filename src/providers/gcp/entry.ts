/** The GCP line of the provider registry. */
import { defineProvider } from '../provider-entry';
import { GcpProviderConfig } from './config';

export const gcpEntry = defineProvider({
  agentSecrets: 'gcp',
  configSchema: GcpProviderConfig,
  async create(config, ctx) {
    const { GcpProvider } = await import('./gcp-provider');
    return new GcpProvider({ config, owner: ctx.owner, logger: ctx.logger, catalogDir: ctx.catalogDir });
  },
});
