/** The local line of the provider registry. */
import type { ProviderContext, ProviderEntry } from '../provider-entry';
import { LocalProviderConfig } from './config';

async function create(config: LocalProviderConfig, ctx: ProviderContext) {
  const { LocalProvider } = await import('./local-provider');
  return new LocalProvider({ config, stateDir: ctx.stateDir, logger: ctx.logger });
}

export const localEntry: ProviderEntry<typeof LocalProviderConfig> = {
  configSchema: LocalProviderConfig,
  create,
  async check(config, ctx) {
    return (await create(config, ctx)).check();
  },
  regionsArePools: true,
};
