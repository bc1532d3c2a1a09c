/**
 * Which connection each provider's agents get (src/providers/agent-settings.ts) and what reaches
 * a cloud instance's boot script: local agents the worker's own connection, cloud agents
 * `agent.temporal` with secret references, never a credential.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, loadConfig } from '../../src/config/config';
import { agentSettingsFor, checkAgentSettings } from '../../src/providers/agent-settings';
import { bootOptions } from '../../src/providers/boot-script';
import { userDataScript } from '../../src/providers/aws/user-data';
import { startupScript } from '../../src/providers/gcp/startup-script';
import { provisionRequest } from '../support/provision-request';
import type { Offer } from '../../src/providers/types';

const run = promisify(execFile);
const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:temporal-api-key-AbCdEf';
const GCP_SECRET = 'projects/my-project/secrets/temporal-api-key';
const CA = '-----BEGIN CERTIFICATE-----\nMIIBcaFromTheTest\n-----END CERTIFICATE-----\n';
// Distinctive values of the worker's own credentials: none may reach a cloud instance.
const WORKER_API_KEY = 'worker-api-key-7f3a9c1e5b';
const CODEC_KEY = Buffer.alloc(32, 7).toString('base64');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'driftless-agent-settings-'));
  await writeFile(join(dir, 'ca.pem'), CA);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const CLOUDS = `
providers:
  local:
    pools: [{ name: lab, gpus: { type: A100, count: 1 }, pricePerGpuHour: 1 }]
  aws:
    regions: [us-east-1]
    images: { us-east-1: ami-0123456789abcdef0 }
    agentInstall: ''
  gcp:
    project: my-project
    regions: [us-central1]
    agentInstall: ''
`;

async function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const configPath = join(dir, 'driftless.config.yaml');
  await writeFile(configPath, yaml);
  return loadConfig({ configPath }, env);
}

const FULL_AGENT = `
agent:
  temporal:
    address: temporal.example.com:7233
    namespace: prod
    tls: { serverName: temporal.example.com, caFile: ca.pem }
    apiKey: { awsSecret: '${ARN}', gcpSecret: ${GCP_SECRET} }
  codecKey: { awsSecret: '${ARN.replace('temporal-api-key', 'codec')}', gcpSecret: projects/my-project/secrets/codec }
`;

describe('agent.temporal in the config', () => {
  test('a cloud without agent.temporal stops the worker with the field named', async () => {
    const c = await load(CLOUDS);
    expect(() => checkAgentSettings(c, {})).toThrow(ConfigError);
    expect(() => checkAgentSettings(c, {})).toThrow(/agent\.temporal\.address: required with aws and gcp/);
  });

  test('local pools alone need nothing: their agents use the worker’s own connection', async () => {
    const c = await load(
      'providers:\n  local:\n    pools: [{ name: lab, gpus: { type: A100, count: 1 }, pricePerGpuHour: 1 }]\n',
    );
    expect(() => checkAgentSettings(c, {})).not.toThrow();
  });

  test('a literal API key is refused: only a secret reference is accepted', async () => {
    const err = await load(
      `${CLOUDS}agent:\n  temporal:\n    address: t:7233\n    apiKey: ${WORKER_API_KEY}\n`,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/agent\.temporal\.apiKey: .*never the secret itself/);
  });

  test('a malformed ARN names the field and the form expected', async () => {
    await expect(
      load(`${CLOUDS}agent:\n  temporal:\n    address: t:7233\n    apiKey: { awsSecret: my-key }\n`),
    ).rejects.toThrow(/agent\.temporal\.apiKey\.awsSecret: expected an ARN/);
  });

  test('a reference without the entry of a configured cloud is refused', async () => {
    const c = await load(
      `${CLOUDS}agent:\n  temporal:\n    address: t:7233\n    apiKey: { awsSecret: '${ARN}' }\n`,
    );
    expect(() => checkAgentSettings(c, {})).toThrow(/agent\.temporal\.apiKey\.gcpSecret: expected with gcp/);
  });

  test('a codec key with clouds needs agent.codecKey', async () => {
    const c = await load(`${CLOUDS}agent:\n  temporal:\n    address: t:7233\n`);
    expect(() => checkAgentSettings(c, {})).not.toThrow();
    expect(() => checkAgentSettings(c, { DRIFTLESS_CODEC_KEY: CODEC_KEY })).toThrow(
      /agent\.codecKey: required/,
    );
  });

  test('a missing caFile is a ConfigError naming it', async () => {
    await expect(
      load(`${CLOUDS}agent:\n  temporal:\n    address: t:7233\n    tls: { caFile: nope.pem }\n`),
    ).rejects.toThrow(/agent\.temporal\.tls\.caFile: cannot read .*nope\.pem/);
  });

  test('clientCert without clientKey is refused', async () => {
    await expect(
      load(`${CLOUDS}agent:\n  temporal:\n    address: t:7233\n    clientCert: { awsSecret: '${ARN}' }\n`),
    ).rejects.toThrow(/agent\.temporal\.clientKey: expected clientCert and clientKey together/);
  });
});

describe('agentSettingsFor', () => {
  test('local agents get the worker’s own connection, its API key included', async () => {
    const c = await load(CLOUDS + FULL_AGENT, {
      TEMPORAL_ADDRESS: 'internal:7233',
      TEMPORAL_API_KEY: WORKER_API_KEY,
    });
    const local = agentSettingsFor(c)('local');
    expect(local).toMatchObject({
      address: 'internal:7233',
      namespace: 'default',
      apiKey: WORKER_API_KEY,
      tls: {},
    });
  });

  test('cloud agents get agent.temporal and their own cloud’s secret references, never a credential', async () => {
    const c = await load(CLOUDS + FULL_AGENT, { TEMPORAL_API_KEY: WORKER_API_KEY });
    const aws = agentSettingsFor(c)('aws');
    expect(aws).toEqual({
      address: 'temporal.example.com:7233',
      namespace: 'prod',
      tls: { serverName: 'temporal.example.com', serverCaPem: CA },
      deadManTimeoutMs: 600_000,
      secrets: { apiKey: `aws:${ARN}`, codecKey: `aws:${ARN.replace('temporal-api-key', 'codec')}` },
    });
    expect(agentSettingsFor(c)('gcp').secrets).toEqual({
      apiKey: `gcp:${GCP_SECRET}`,
      codecKey: 'gcp:projects/my-project/secrets/codec',
    });
  });
});

describe('boot scripts carry where the secrets are, never their values', () => {
  const offer = (provider: string, region: string): Offer =>
    ({ provider, region, zone: `${region}-a`, instanceType: 'g5.xlarge' }) as Offer;
  const agentLines = { agentInstall: '', agentCommand: 'env > agent-env.txt' };

  test.each(['aws', 'gcp'])(
    '%s: the script names the secrets and the CA; no key of the worker is in it',
    async (p) => {
      const env = { TEMPORAL_API_KEY: WORKER_API_KEY, DRIFTLESS_CODEC_KEY: CODEC_KEY };
      const c = await load(CLOUDS + FULL_AGENT, env);
      const req = provisionRequest(offer(p, p === 'aws' ? 'us-east-1' : 'us-central1'), 'test', {
        agent: agentSettingsFor(c)(p),
      });
      const o = bootOptions(req, agentLines);
      const script =
        p === 'aws'
          ? userDataScript(o)
          : startupScript({ ...o, instanceName: 'driftless-train-0123456789abcdef' });
      expect(script).not.toContain(WORKER_API_KEY);
      expect(script).not.toContain(CODEC_KEY);
      expect(script).toContain(`DRIFTLESS_TEMPORAL_API_KEY_SECRET='${p}:${p === 'aws' ? ARN : GCP_SECRET}'`);
      expect(script).toContain('--setenv=DRIFTLESS_TEMPORAL_API_KEY_SECRET');
      expect(script).toContain("export TEMPORAL_TLS='true'");
      expect(script).toContain('MIIBcaFromTheTest');
      await run('bash', ['-n', '-c', script]);
    },
  );

  test('a request that carries a literal credential is refused rather than written into user data', () => {
    const req = provisionRequest(offer('aws', 'us-east-1'), 'test', {
      agent: { address: 't:7233', namespace: 'default', apiKey: WORKER_API_KEY },
    });
    expect(() => bootOptions(req, agentLines)).toThrow(/never given a literal credential/);
  });
});
