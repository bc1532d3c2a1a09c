/**
 * Which connection each provider's agents get. Agents on this machine (local pools) get the
 * worker's own connection, credentials included. Agents on cloud instances get `agent.temporal`:
 * an address they can reach, TLS, and where to fetch each credential with the instance's role
 * (the cloud's entry of each secret reference), never a credential itself.
 */
import type { SecretRef } from '../config/agent-temporal';
import { ConfigError, type Config } from '../config/config';
import { CODEC_KEY_ENV } from '../codec/aes-gcm';
import { PROVIDERS, type ProviderName } from './registry';
import type { AgentSettings } from './types';

/** The configured providers whose agents run on cloud instances, with their secret store. */
function cloudProviders(config: Config): [ProviderName, 'aws' | 'gcp'][] {
  return (Object.keys(PROVIDERS) as ProviderName[]).flatMap((name) => {
    const store = PROVIDERS[name].agentSecrets;
    return store && config.providers[name] !== undefined
      ? [[name, store] as [ProviderName, 'aws' | 'gcp']]
      : [];
  });
}

/**
 * Checks that every configured cloud can start agents: agent.temporal is set, each secret
 * reference has this cloud's entry, and a codec key has agent.codecKey. Throws a ConfigError
 * naming the setting; the worker runs it before it polls.
 */
export function checkAgentSettings(config: Config, env: NodeJS.ProcessEnv = process.env): void {
  const clouds = cloudProviders(config);
  if (clouds.length === 0) return;
  const names = clouds.map(([n]) => n).join(' and ');
  const cloud = config.agent.cloud;
  if (!cloud) {
    throw new ConfigError(
      `agent.temporal.address: required with ${names} configured: the Temporal address cloud instances reach ` +
        `(the worker's own, ${config.temporal.address}, is used only for local pools)`,
    );
  }
  const refs: [string, SecretRef | undefined][] = [
    ['agent.temporal.apiKey', cloud.apiKey],
    ['agent.temporal.clientCert', cloud.clientCert],
    ['agent.temporal.clientKey', cloud.clientKey],
    ['agent.codecKey', config.agent.codecKey],
  ];
  for (const [field, ref] of refs) {
    for (const [name, store] of clouds) {
      if (ref && ref[`${store}Secret`] === undefined) {
        throw new ConfigError(
          `${field}.${store}Secret: expected with ${name} configured (where its instances fetch it)`,
        );
      }
    }
  }
  if (env[CODEC_KEY_ENV] && !config.agent.codecKey) {
    throw new ConfigError(
      `agent.codecKey: required with ${CODEC_KEY_ENV} set and ${names} configured: the secret cloud agents ` +
        'fetch the codec key from ({ awsSecret: ARN } / { gcpSecret: projects/P/secrets/S })',
    );
  }
}

/** The settings of the agents of each provider, by provider name. */
export function agentSettingsFor(config: Config): (provider: string) => AgentSettings {
  const deadMan = { deadManTimeoutMs: config.agent.deadManTimeoutMs };
  const { taskQueue: _queue, ...own } = config.temporal;
  const local: AgentSettings = { ...own, ...deadMan };
  return (provider) => {
    const store = PROVIDERS[provider as ProviderName]?.agentSecrets;
    if (!store) return local;
    const cloud = config.agent.cloud;
    if (!cloud) throw new ConfigError(`agent.temporal.address: required to start agents on ${provider}`);
    const where = (ref: SecretRef | undefined) => {
      const v = ref?.[`${store}Secret`];
      return v === undefined ? undefined : `${store}:${v}`;
    };
    const secrets = Object.fromEntries(
      Object.entries({
        apiKey: where(cloud.apiKey),
        clientCert: where(cloud.clientCert),
        clientKey: where(cloud.clientKey),
        codecKey: where(config.agent.codecKey),
      }).filter(([, v]) => v !== undefined),
    );
    return {
      address: cloud.address,
      namespace: cloud.namespace,
      ...(cloud.tls ? { tls: cloud.tls } : {}),
      ...deadMan,
      ...(Object.keys(secrets).length > 0 ? { secrets } : {}),
    };
  };
}
