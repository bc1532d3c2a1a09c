/** The GCP line of the provider registry. */
import type { ProviderEntry } from '../provider-entry';
import { GcpProviderConfig } from './config';

export const gcpEntry: ProviderEntry<typeof GcpProviderConfig> = {
  configSchema: GcpProviderConfig,
  async create(config, ctx) {
    const { GcpProvider } = await import('./gcp-provider');
    return new GcpProvider({ config, owner: ctx.owner, logger: ctx.logger, catalogDir: ctx.catalogDir });
  },
  async check(config, ctx, signal) {
    const { checkGcp, gcpCheckReport } = await import('./check');
    return gcpCheckReport(await checkGcp(config, { catalogDir: ctx.catalogDir, signal }));
  },
};
