/**
 * A cloud agent's credentials: fetched at start from the secret its boot script names, with the
 * machine's own credentials. AWS: the real SDK against moto's Secrets Manager on loopback. GCP:
 * the metadata server's token and Secret Manager's `:access`, served on loopback in the shapes
 * the real services answer.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { agentCredentials, parseSecretLocation, SecretError } from '../../src/agent/secrets';
import { MOTO_CREDENTIALS, startMoto, type MotoServer } from '../support/moto';

const REGION = 'us-east-1';

describe('parseSecretLocation', () => {
  test('reads an AWS ARN and a GCP secret, defaulting its version to latest', () => {
    expect(parseSecretLocation('aws:arn:aws:secretsmanager:us-east-1:123456789012:secret:k', 'V')).toEqual({
      cloud: 'aws',
      arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:k',
    });
    expect(parseSecretLocation('gcp:projects/p/secrets/s', 'V')).toEqual({
      cloud: 'gcp',
      name: 'projects/p/secrets/s/versions/latest',
    });
    expect(parseSecretLocation('gcp:projects/p/secrets/s/versions/3', 'V')).toEqual({
      cloud: 'gcp',
      name: 'projects/p/secrets/s/versions/3',
    });
  });

  test('anything else is an error naming the variable', () => {
    expect(() => parseSecretLocation('the-key-itself', 'DRIFTLESS_TEMPORAL_API_KEY_SECRET')).toThrow(
      /DRIFTLESS_TEMPORAL_API_KEY_SECRET: expected "aws:arn:/,
    );
  });
});

describe('agentCredentials from AWS Secrets Manager (moto)', () => {
  let moto: MotoServer;
  let env: NodeJS.ProcessEnv;
  const arns: Record<string, string> = {};

  beforeAll(async () => {
    moto = await startMoto();
    const sm = new SecretsManagerClient({
      region: REGION,
      endpoint: moto.endpoint,
      credentials: MOTO_CREDENTIALS,
    });
    const make = async (name: string, value: string) =>
      (arns[name] = (await sm.send(new CreateSecretCommand({ Name: name, SecretString: value }))).ARN!);
    await make('temporal-api-key', 'key-from-secrets-manager\n');
    await make('codec-key', 'Y29kZWMta2V5LWZyb20tc2VjcmV0cy1tYW5hZ2VyIQ==');
    await make('client-cert', '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n');
    await make('client-key', '-----BEGIN PRIVATE KEY-----\nBBB\n-----END PRIVATE KEY-----\n');
    sm.destroy();
    // What the SDK's default chain finds on an instance (the role); here moto's test keys.
    env = {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.endpoint,
      AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
      TEMPORAL_ADDRESS: 'temporal.example:7233',
      TEMPORAL_NAMESPACE: 'prod',
      TEMPORAL_TLS: 'true',
      TEMPORAL_TLS_SERVER_NAME: 'temporal.example',
    };
  }, 180_000);

  afterAll(async () => moto?.stop());

  const withEnv = async <T>(extra: NodeJS.ProcessEnv, fn: () => Promise<T>): Promise<T> => {
    const saved = { ...process.env };
    Object.assign(process.env, env, extra);
    try {
      return await fn();
    } finally {
      process.env = saved;
    }
  };

  test('fetches the API key and the codec key; the connection keeps its public settings', async () => {
    const e = {
      ...env,
      DRIFTLESS_TEMPORAL_API_KEY_SECRET: `aws:${arns['temporal-api-key']}`,
      DRIFTLESS_CODEC_KEY_SECRET: `aws:${arns['codec-key']}`,
    };
    // The SDK reads its endpoint override from process.env.
    const c = await withEnv(e, () => agentCredentials(e));
    expect(c.connection).toEqual({
      address: 'temporal.example:7233',
      namespace: 'prod',
      apiKey: 'key-from-secrets-manager',
      tls: { serverName: 'temporal.example' },
    });
    expect(c.codecEnv.DRIFTLESS_CODEC_KEY).toBe('Y29kZWMta2V5LWZyb20tc2VjcmV0cy1tYW5hZ2VyIQ==');
    // The values live in memory only: the environment the agent passes on does not carry them.
    expect(e).not.toHaveProperty('DRIFTLESS_CODEC_KEY');
    expect(JSON.stringify(e)).not.toContain('key-from-secrets-manager');
  });

  test('fetches a client certificate and key for mTLS', async () => {
    const e = {
      ...env,
      DRIFTLESS_TEMPORAL_CLIENT_CERT_SECRET: `aws:${arns['client-cert']}`,
      DRIFTLESS_TEMPORAL_CLIENT_KEY_SECRET: `aws:${arns['client-key']}`,
    };
    const c = await withEnv(e, () => agentCredentials(e));
    expect(c.connection.tls?.clientCertPem).toContain('BEGIN CERTIFICATE');
    expect(c.connection.tls?.clientKeyPem).toContain('BEGIN PRIVATE KEY');
  });

  test('a secret that does not exist is an error naming it', async () => {
    const missing = arns['temporal-api-key']!.replace('temporal-api-key', 'nope');
    const e = { ...env, DRIFTLESS_TEMPORAL_API_KEY_SECRET: `aws:${missing}` };
    const err = await withEnv(e, () => agentCredentials(e)).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(SecretError);
    expect((err as Error).message).toContain(missing);
  });
});

describe('agentCredentials from GCP Secret Manager', () => {
  let server: Server;
  let url: string;
  const seen: { path: string; auth?: string; flavor?: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({
        path: req.url ?? '',
        auth: req.headers.authorization,
        flavor: req.headers['metadata-flavor'] as string | undefined,
      });
      if (req.url === '/computeMetadata/v1/instance/service-accounts/default/token') {
        if (req.headers['metadata-flavor'] !== 'Google') return res.writeHead(403).end();
        return res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ access_token: 'ya29.token', expires_in: 3599, token_type: 'Bearer' }));
      }
      if (req.url === '/v1/projects/p/secrets/temporal-key/versions/latest:access') {
        if (req.headers.authorization !== 'Bearer ya29.token') return res.writeHead(401).end();
        const data = Buffer.from('gcp-api-key').toString('base64');
        return res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ name: 'projects/p/secrets/temporal-key/versions/1', payload: { data } }));
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":404}}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => new Promise<void>((r) => server.close(() => r())));

  test('gets a token from the metadata server and the secret with it', async () => {
    const c = await agentCredentials({
      TEMPORAL_ADDRESS: 'temporal.example:7233',
      DRIFTLESS_METADATA_URL: url,
      DRIFTLESS_SECRET_MANAGER_URL: url,
      DRIFTLESS_TEMPORAL_API_KEY_SECRET: 'gcp:projects/p/secrets/temporal-key',
    });
    expect(c.connection.apiKey).toBe('gcp-api-key');
    // An API key without TLS settings: TLS on, as for any API key.
    expect(c.connection.tls).toEqual({});
    expect(seen.map((s) => s.path)).toEqual([
      '/computeMetadata/v1/instance/service-accounts/default/token',
      '/v1/projects/p/secrets/temporal-key/versions/latest:access',
    ]);
  });

  test('a secret it may not read is an error naming it', async () => {
    await expect(
      agentCredentials({
        DRIFTLESS_METADATA_URL: url,
        DRIFTLESS_SECRET_MANAGER_URL: url,
        DRIFTLESS_TEMPORAL_API_KEY_SECRET: 'gcp:projects/p/secrets/other',
      }),
    ).rejects.toThrow(/projects\/p\/secrets\/other\/versions\/latest.*404/);
  });
});
