import type { Config } from '../config/config';
import type { Logger } from '../logger';
import { AwsProvider } from './aws/aws-provider';
import { GcpProvider } from './gcp/gcp-provider';
import { LocalProvider } from './local/local-provider';
import type { Provider } from './types';

/** The configured providers by name. Constructing them does no I/O. */
export function createProviders(config: Config, logger: Logger): Map<string, Provider> {
  const providers = new Map<string, Provider>();
  if (config.providers.local) {
    providers.set(
      'local',
      new LocalProvider({ config: config.providers.local, stateDir: config.stateDir, logger }),
    );
  }
  if (config.providers.aws) {
    providers.set(
      'aws',
      new AwsProvider({
        config: config.providers.aws,
        owner: config.owner,
        logger,
        catalogDir: config.catalogDir,
      }),
    );
  }
  if (config.providers.gcp) {
    providers.set(
      'gcp',
      new GcpProvider({
        config: config.providers.gcp,
        owner: config.owner,
        logger,
        catalogDir: config.catalogDir,
      }),
    );
  }
  return providers;
}
