/**
 * Secrets a cloud agent fetches at start with its instance's own role: its Temporal API key or
 * client certificate, and the payload codec key. The boot script carries only where each secret
 * lives (an AWS Secrets Manager ARN, a GCP Secret Manager version name), never its value, and
 * the values stay in the agent's memory: they are not written to disk or put in an environment.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { resolveConnection, SECRET_ENV, type TemporalConnection } from '../temporal-connection';

/** Where a secret lives, in the form the agent's environment carries it: "aws:<ARN>" or "gcp:<name>". */
export type SecretLocation = { cloud: 'aws'; arn: string } | { cloud: 'gcp'; name: string };

export class SecretError extends Error {
  override readonly name = 'SecretError';
}

/** Parses "aws:<ARN>" or "gcp:projects/P/secrets/S[/versions/V]"; `variable` names it in errors. */
export function parseSecretLocation(value: string, variable: string): SecretLocation {
  if (value.startsWith('aws:arn:')) return { cloud: 'aws', arn: value.slice(4) };
  if (/^gcp:projects\/[^/]+\/secrets\/[^/]+(\/versions\/[^/]+)?$/.test(value)) {
    const name = value.slice(4);
    return { cloud: 'gcp', name: name.includes('/versions/') ? name : `${name}/versions/latest` };
  }
  throw new SecretError(
    `${variable}: expected "aws:arn:aws:secretsmanager:..." or "gcp:projects/P/secrets/S[/versions/V]", got "${value}"`,
  );
}

/** Fetches one secret's text with the machine's own credentials (instance role / service account). */
export async function fetchSecret(loc: SecretLocation, env: NodeJS.ProcessEnv): Promise<string> {
  return loc.cloud === 'aws' ? fetchAwsSecret(loc.arn) : fetchGcpSecret(loc.name, env);
}

async function fetchAwsSecret(arn: string): Promise<string> {
  // arn:aws:secretsmanager:<region>:<account>:secret:<name>
  const region = arn.split(':')[3];
  if (!region) throw new SecretError(`secret ${arn}: expected an ARN with a region`);
  // The SDK's default chain: on EC2 the instance role through IMDS; AWS_ENDPOINT_URL_SECRETS_MANAGER
  // points it elsewhere (a test's moto).
  const client = new SecretsManagerClient({ region });
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    const text = out.SecretString ?? (out.SecretBinary ? Buffer.from(out.SecretBinary).toString('utf8') : '');
    if (text === '') throw new SecretError(`secret ${arn} is empty`);
    return text;
  } catch (err) {
    if (err instanceof SecretError) throw err;
    throw new SecretError(`cannot read secret ${arn}: ${(err as Error).message}`);
  } finally {
    client.destroy();
  }
}

async function fetchGcpSecret(name: string, env: NodeJS.ProcessEnv): Promise<string> {
  const metadata = env.DRIFTLESS_METADATA_URL || 'http://metadata.google.internal';
  const api = env.DRIFTLESS_SECRET_MANAGER_URL || 'https://secretmanager.googleapis.com';
  try {
    const tokenRes = await fetch(`${metadata}/computeMetadata/v1/instance/service-accounts/default/token`, {
      headers: { 'Metadata-Flavor': 'Google' },
      signal: AbortSignal.timeout(10_000),
    });
    if (!tokenRes.ok) throw new Error(`metadata token: HTTP ${tokenRes.status}`);
    const { access_token: token } = (await tokenRes.json()) as { access_token?: string };
    if (!token) throw new Error('metadata token: no access_token');
    const res = await fetch(`${api}/v1/${name}:access`, {
      headers: { Authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    const body = (await res.json()) as { payload?: { data?: string } };
    const text = Buffer.from(body.payload?.data ?? '', 'base64').toString('utf8');
    if (text === '') throw new Error('the secret is empty');
    return text;
  } catch (err) {
    throw new SecretError(`cannot read secret ${name}: ${(err as Error).message}`);
  }
}

/** What an agent starts with: its connection and the environment its codec reads. */
export interface AgentCredentials {
  connection: TemporalConnection;
  /** `env`, plus the codec key when it came from a secret (for dataConverterFromEnv only). */
  codecEnv: NodeJS.ProcessEnv;
}

/**
 * The agent's Temporal connection from the environment its provider gave it (TEMPORAL_*, no
 * temporal.toml), with the secrets named by DRIFTLESS_*_SECRET fetched and filled in.
 */
export async function agentCredentials(env: NodeJS.ProcessEnv): Promise<AgentCredentials> {
  const connection = resolveConnection({ envOnly: true }, env);
  const get = async (variable: string) => {
    const v = env[variable];
    return v ? fetchSecret(parseSecretLocation(v, variable), env) : undefined;
  };
  const [apiKey, clientCertPem, clientKeyPem, codecKey] = await Promise.all([
    get(SECRET_ENV.apiKey),
    get(SECRET_ENV.clientCert),
    get(SECRET_ENV.clientKey),
    get(SECRET_ENV.codecKey),
  ]);
  if (apiKey !== undefined) {
    connection.apiKey = apiKey.trim();
    // As for any API key: TLS unless TEMPORAL_TLS says otherwise.
    if (!env.TEMPORAL_TLS) connection.tls ??= {};
  }
  if (clientCertPem !== undefined || clientKeyPem !== undefined) {
    if (clientCertPem === undefined || clientKeyPem === undefined) {
      throw new SecretError(`${SECRET_ENV.clientCert} and ${SECRET_ENV.clientKey}: expected both or neither`);
    }
    connection.tls = { ...connection.tls, clientCertPem, clientKeyPem };
  }
  return {
    connection,
    codecEnv: codecKey === undefined ? env : { ...env, DRIFTLESS_CODEC_KEY: codecKey.trim() },
  };
}
