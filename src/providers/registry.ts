/**
 * Every provider driftless can run on, by the name its config section and its offers carry.
 * Config loading, `driftless check`, the worker and the CLI go through this table and never
 * name a provider: adding one is a folder beside aws/ and one line here.
 */
import { z } from 'zod';
import type { Logger } from 'pino';
import { awsEntry } from './aws/entry';
import type { ProviderCheck } from './check';
import { gcpEntry } from './gcp/entry';
import { defaultLocalConfig } from './local/config';
import { localEntry } from './local/entry';
import type { ProviderContext, ProviderEntry } from './provider-entry';
import type { Provider } from './types';

export type { ProviderContext, ProviderEntry } from './provider-entry';

/** The registry, in the order providers are built, listed and checked. */
export const PROVIDERS = {
  local: localEntry,
  aws: awsEntry,
  gcp: gcpEntry,
} as const;

export type ProviderName = keyof typeof PROVIDERS;

/** The parsed `providers:` section: one optional field per registered provider. */
export type ProvidersConfig = { [K in ProviderName]?: z.output<(typeof PROVIDERS)[K]['configSchema']> };

type ProvidersShape = { [K in ProviderName]: z.ZodOptional<(typeof PROVIDERS)[K]['configSchema']> };

/** The schema of the `providers:` section, built from the registry. */
export const ProvidersConfigSchema = z.strictObject(
  Object.fromEntries(
    Object.entries(PROVIDERS).map(([name, entry]) => [name, entry.configSchema.optional()]),
  ) as ProvidersShape,
);

/** What runs when no provider is configured at all: one local pool on this machine. */
export function defaultProviders(): ProvidersConfig {
  return { local: defaultLocalConfig() };
}

/** The registry line of a provider name, if it is one. */
function entryOf(name: string): ProviderEntry | undefined {
  return Object.prototype.hasOwnProperty.call(PROVIDERS, name)
    ? (PROVIDERS[name as ProviderName] as ProviderEntry)
    : undefined;
}

/** Whether the regions of this provider are pools on this machine (as `status` shows them). */
export function regionsArePools(provider: string | undefined): boolean {
  return provider !== undefined && entryOf(provider)?.regionsArePools === true;
}

/** The settings providers are built from (a resolved Config has them all). */
export interface ProviderSettings {
  providers: ProvidersConfig;
  owner: string;
  stateDir: string;
  catalogDir?: string;
}

/** The configured sections, in registry order. */
function configured(settings: ProviderSettings, logger: Logger) {
  const ctx: ProviderContext = {
    owner: settings.owner,
    stateDir: settings.stateDir,
    catalogDir: settings.catalogDir,
    logger,
  };
  return (Object.keys(PROVIDERS) as ProviderName[]).flatMap((name) => {
    const section = settings.providers[name];
    return section === undefined ? [] : [{ name, entry: PROVIDERS[name] as ProviderEntry, section, ctx }];
  });
}

/** The configured providers by name. Building them does no I/O. */
export async function createProviders(
  settings: ProviderSettings,
  logger: Logger,
): Promise<Map<string, Provider>> {
  const providers = new Map<string, Provider>();
  for (const { name, entry, section, ctx } of configured(settings, logger)) {
    providers.set(name, await entry.create(section, ctx));
  }
  return providers;
}

/** `driftless check` for every configured provider, one after another. Launches nothing. */
export async function checkProviders(
  settings: ProviderSettings,
  logger: Logger,
  signal?: AbortSignal,
): Promise<ProviderCheck[]> {
  const results: ProviderCheck[] = [];
  for (const { entry, section, ctx } of configured(settings, logger)) {
    results.push(await entry.check(section, ctx, signal));
  }
  return results;
}
