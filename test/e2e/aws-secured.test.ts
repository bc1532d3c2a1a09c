/**
 * A cloud agent reaching a secured Temporal the way production does: the worker runs beside
 * Temporal (plain, on its own network), while the agent on an EC2 instance (moto, played by the
 * VM player) is told `agent.temporal`: the TLS front's address and CA, and where its API key and
 * the codec key live in Secrets Manager. It fetches both with the instance's credentials,
 * connects through the front (which refuses any call without the key) and runs the workload.
 * Neither value is ever in the user data.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DescribeInstanceAttributeCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { newCodecKey } from '../../src/codec/aes-gcm';
import {
  agentsOf,
  LOG_LEVEL,
  serviceSpec,
  temporalAddress,
  waitFor,
  workloadProcesses,
} from '../support/harness';
import { playedVmProvider, runningOnPlayedVm, useE2eInstallation } from '../support/e2e';
import {
  MOTO_CREDENTIALS,
  MOTO_IMAGE_NAME,
  motoEc2,
  motoEnv,
  startMoto,
  type MotoServer,
} from '../support/moto';
import { VmPlayer } from '../support/vm-player';
import { makeCerts, startTlsFront, type TlsFront } from '../support/tls-front';
import { readFileSync } from 'node:fs';

const REGION = 'us-east-1';
const IMAGE_NAME = MOTO_IMAGE_NAME;
const API_KEY = `agent-api-key-${randomBytes(6).toString('hex')}`;
const CODEC_KEY = newCodecKey();

let moto: MotoServer;
let player: VmPlayer;
let front: TlsFront;
let ec2: EC2Client;
const arns: { apiKey?: string; codecKey?: string } = {};
const owner = `e2e-sec-${randomBytes(3).toString('hex')}`;

const e2e = useE2eInstallation({
  // A local pool no spec here may use (the config wants one); the workload goes to AWS.
  pools: [{ name: 'lab-t4', gpus: { type: 'T4', count: 1 }, pricePerGpuHour: 50 }],
  config: { owner },
  // The worker's and the CLI's own codec key; cloud agents fetch theirs from Secrets Manager.
  env: { DRIFTLESS_CODEC_KEY: CODEC_KEY },
  setup: async (installation) => {
    moto = await startMoto();
    const sm = new SecretsManagerClient({
      region: REGION,
      endpoint: moto.endpoint,
      credentials: MOTO_CREDENTIALS,
    });
    arns.apiKey = (
      await sm.send(new CreateSecretCommand({ Name: 'temporal-api-key', SecretString: API_KEY }))
    ).ARN;
    arns.codecKey = (
      await sm.send(new CreateSecretCommand({ Name: 'codec-key', SecretString: CODEC_KEY }))
    ).ARN;
    sm.destroy();
    const certs = await makeCerts(join(installation.dir, 'certs'));
    front = await startTlsFront({
      dir: join(installation.dir, 'nginx'),
      upstream: temporalAddress(),
      certs,
      apiKey: API_KEY,
    });
    ec2 = motoEc2(moto.endpoint, REGION);
    player = new VmPlayer({
      endpoint: moto.endpoint,
      owner,
      regions: [REGION],
      // What the SDK's default chain finds on the instance (its role), and where Secrets Manager is.
      env: {
        DRIFTLESS_LOG_LEVEL: LOG_LEVEL,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.endpoint,
        ...motoEnv(),
      },
    });
    await player.start();
    return {
      config: {
        providers: {
          aws: {
            regions: [REGION],
            endpoint: moto.endpoint,
            images: { [REGION]: IMAGE_NAME },
            ...playedVmProvider('15s'),
          },
        },
        agent: {
          temporal: {
            address: front.address,
            tls: { serverName: 'localhost', caFile: certs.caCert },
            apiKey: { awsSecret: arns.apiKey },
          },
          codecKey: { awsSecret: arns.codecKey },
        },
      },
      env: motoEnv(REGION),
    };
  },
  teardown: async () => {
    await player?.stop();
    await front?.stop();
    ec2?.destroy();
    await moto?.stop();
  },
  timeoutMs: 300_000,
});

test('the agent fetches its API key and codec key with the instance role, connects through the front, and runs the workload; user data names only where they are', async () => {
  const name = 'aws-secured';
  await e2e.withWorkload(
    serviceSpec(name, {
      resources: { gpu: 'T4:1' },
      placement: { providers: ['aws'], regions: [REGION] },
      health: { heartbeatTimeout: '5s', startupGrace: '60s' },
      env: { GREETING: 'hello from an encrypted spec' },
    }),
    async () => {
      const s = await runningOnPlayedVm(e2e, player, name);
      expect(s.provider).toBe('aws');
      await waitFor(() => workloadProcesses(name).length === 1, 'the workload process', 30_000);
      const attr = await ec2.send(
        new DescribeInstanceAttributeCommand({ InstanceId: s.instanceId!, Attribute: 'userData' }),
      );
      const userData = Buffer.from(attr.UserData!.Value!, 'base64').toString('utf8');
      expect(userData).toContain(`DRIFTLESS_TEMPORAL_API_KEY_SECRET='aws:${arns.apiKey}'`);
      expect(userData).toContain(`DRIFTLESS_CODEC_KEY_SECRET='aws:${arns.codecKey}'`);
      expect(userData).toContain(`TEMPORAL_ADDRESS='${front.address}'`);
      expect(userData).not.toContain(API_KEY);
      expect(userData).not.toContain(CODEC_KEY);
      // The agent holds the fetched values in memory only: its environment has neither.
      for (const pid of agentsOf(name)) {
        const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
        expect(environ).not.toContain(API_KEY);
        expect(environ).not.toContain(CODEC_KEY);
      }
    },
  );
});
