/** The shape of one line of the provider registry (./registry.ts). */
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { ProviderCheck } from './check';
import type { Provider } from './types';

/** What a provider is built with besides its own section of the config file. */
export interface ProviderContext {
  /** This installation's owner mark: stamped on every instance, the only mark reconcile touches. */
  owner: string;
  /** Where a provider that keeps state on this machine keeps it. */
  stateDir: string;
  /** SkyPilot-format catalogs replacing the bundled ones. @default the bundled catalogs */
  catalogDir?: string;
  logger: Logger;
}

/**
 * Everything the rest of driftless knows of a provider: the schema of its `providers.<name>`
 * section, how to build it and how to check its credentials. A provider's code is loaded only
 * when one is built or checked, so reading the config loads no cloud SDK.
 */
export interface ProviderEntry<Schema extends z.ZodType = z.ZodType> {
  configSchema: Schema;
  /** Builds the provider from its parsed section; does no I/O. */
  create(config: z.output<Schema>, ctx: ProviderContext): Promise<Provider>;
  /** Do the credentials work, which regions answer (what `driftless check` shows); launches nothing. */
  check(config: z.output<Schema>, ctx: ProviderContext, signal?: AbortSignal): Promise<ProviderCheck>;
  /** Its regions are pools on this machine, and `status` names them so. @default false */
  regionsArePools?: boolean;
  /**
   * Its agents run on remote machines: they reach Temporal as `agent.temporal` says and fetch
   * their credentials from this cloud's secret store (the `awsSecret` or `gcpSecret` of each
   * secret reference). Unset: its agents run on this machine with the worker's own connection.
   */
  agentSecrets?: 'aws' | 'gcp';
}

/** What a provider's folder gives the registry: `check` may be left out. */
export type ProviderDefinition<Schema extends z.ZodType> = Omit<ProviderEntry<Schema>, 'check'> &
  Partial<Pick<ProviderEntry<Schema>, 'check'>>;

/**
 * A registry line from a provider's definition. Without a `check` of its own, the provider is
 * built from its section, asked for its {@link Provider.check} and closed again.
 */
export function defineProvider<Schema extends z.ZodType>(
  def: ProviderDefinition<Schema>,
): ProviderEntry<Schema> {
  return {
    ...def,
    check:
      def.check ??
      (async (config, ctx, signal) => {
        const provider = await def.create(config, ctx);
        try {
          return await provider.check(signal);
        } finally {
          await provider.close?.();
        }
      }),
  };
}
