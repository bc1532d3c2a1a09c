/** The local line of the provider registry. */
import { defineProvider } from '../provider-entry';
import { LocalProviderConfig } from './config';

export const localEntry = defineProvider({
  configSchema: LocalProviderConfig,
  async create(config, ctx) {
    const { LocalProvider } = await import('./local-provider');
    return new LocalProvider({ config, stateDir: ctx.stateDir, logger: ctx.logger });
  },
  regionsArePools: true,
});
