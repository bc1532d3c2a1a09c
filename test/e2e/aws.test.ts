/**
 * A workload placed on AWS (moto's EC2 server) by the real worker process, with a VM player
 * running each instance's UserData locally: the agent it starts runs the workload.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DescribeInstancesCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { stringify } from 'yaml';
import {
  cli,
  cliJson,
  makeEnv,
  ROOT,
  serviceSpec,
  startWorker,
  waitFor,
  workloadProcesses,
  writeSpec,
  type StatusJson,
  type TestEnv,
  type WorkerProcess,
} from '../support/harness';
import { MOTO_CREDENTIALS, startMoto, type MotoServer } from '../support/moto';
import { VmPlayer } from '../support/vm-player';
import { startFaultProxy, type FaultProxy } from '../providers/aws/fault-proxy';

const REGION = 'us-east-1';
const IMAGE_NAME = 'ubuntu/images/hvm-ssd/ubuntu-xenial-16.04-amd64-server-*';

interface AwsStatus extends StatusJson {
  region?: string;
  zone?: string;
  instanceType?: string;
}

let moto: MotoServer;
/** Between the worker and moto, to inject EC2 errors; the player talks to moto directly. */
let proxy: FaultProxy;
let env: TestEnv;
let worker: WorkerProcess;
let player: VmPlayer;
let ec2: EC2Client;
const owner = `e2e-aws-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy(moto.endpoint);
  env = await makeEnv([]);
  // Replace the local pools with an AWS-only configuration on moto.
  await writeFile(
    env.configPath,
    stringify({
      owner,
      providers: {
        aws: {
          regions: [REGION],
          endpoint: proxy.endpoint,
          images: { [REGION]: IMAGE_NAME },
          agentInstall: '',
          agentCommand: `node '${join(ROOT, 'dist/agent/main.js')}'`,
          retryDelay: '10ms',
          maxRetryDelay: '50ms',
          callTimeout: '15s',
        },
      },
    }),
  );
  env.env = {
    ...env.env,
    AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_REGION: REGION,
  };
  ec2 = new EC2Client({
    region: REGION,
    endpoint: moto.endpoint,
    credentials: MOTO_CREDENTIALS,
    maxAttempts: 1,
  });
  player = new VmPlayer({
    endpoint: moto.endpoint,
    owner,
    env: { DRIFTLESS_LOG_LEVEL: env.env.DRIFTLESS_LOG_LEVEL },
  });
  await player.start();
  worker = await startWorker(env.env);
}, 300_000);

afterAll(async () => {
  await worker?.stop();
  await player?.stop();
  await proxy?.stop();
  ec2?.destroy();
  await moto?.stop();
  await env?.cleanup();
});

async function instanceState(id: string): Promise<string | undefined> {
  const res = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  return res.Reservations?.[0]?.Instances?.[0]?.State?.Name;
}

function awsSpec(name: string) {
  return serviceSpec(name, {
    resources: { gpu: 'T4:1' },
    placement: { providers: ['aws'], regions: [REGION] },
    health: { heartbeatTimeout: '5s', startupGrace: '60s' },
  });
}

const status = (name: string) => cliJson<AwsStatus>(['status', name], env.env);

/** Waits until the workload runs on an instance other than `not`, played by the player. */
async function runningOn(name: string, not?: string): Promise<AwsStatus> {
  return waitFor(
    async () => {
      const s = await status(name);
      return s.phase === 'RUNNING' && s.instanceId && s.instanceId !== not ? s : undefined;
    },
    `${name} RUNNING on an instance other than ${not ?? '-'}`,
    90_000,
    300,
  );
}

function diagnose(): string {
  return [
    `worker:\n${worker.output().slice(-3000)}`,
    ...player.list().map((p) => `player ${p.instanceId} (exited ${p.exited}):\n${p.output().slice(-2000)}`),
    `player error: ${String(player.error())}`,
  ].join('\n');
}

test('a service placed on AWS runs under the played VM, and stop terminates the instance', async () => {
  const name = 'aws-svc';
  const file = await writeSpec(env, awsSpec(name));
  try {
    const applied = await cli(['apply', file], env.env);
    expect(applied.code).toBe(0);
    const s = await runningOn(name).catch((err: Error) => {
      throw new Error(`${err.message}\n${diagnose()}`);
    });
    expect(s.provider).toBe('aws');
    expect(s.region).toBe(REGION);
    expect(s.instanceId).toMatch(/^i-[0-9a-f]+$/);
    const id = s.instanceId!;
    expect(player.running()).toEqual([id]);
    expect(await instanceState(id)).toBe('running');
    await waitFor(() => workloadProcesses(name).length === 1, 'the workload process', 30_000);

    const r = await cli(['stop', name, '--json'], env.env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ phase: 'STOPPED', workflowStatus: 'COMPLETED' });
    expect(await instanceState(id)).toMatch(/^(shutting-down|terminated)$/);
    await waitFor(
      () => player.running().length === 0 && player.alive(id).length === 0,
      'the VM to stop',
      30_000,
    );
    await waitFor(() => workloadProcesses(name).length === 0, 'the workload to end', 30_000);
  } finally {
    await cli(['stop', name], env.env);
  }
});

test('an instance AWS takes away is lost, and the workload is placed again on a new instance', async () => {
  const name = 'aws-lost';
  const file = await writeSpec(env, awsSpec(name));
  try {
    expect((await cli(['apply', file], env.env)).code).toBe(0);
    const first = await runningOn(name).catch((err: Error) => {
      throw new Error(`${err.message}\n${diagnose()}`);
    });
    const old = first.instanceId!;
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [old] }));

    const second = await runningOn(name, old).catch((err: Error) => {
      throw new Error(`${err.message}\n${diagnose()}`);
    });
    expect(second.provider).toBe('aws');
    expect(second.instanceId).toMatch(/^i-[0-9a-f]+$/);
    expect(second.instanceId).not.toBe(old);
    expect(second.status?.timeline.map((e) => e.type)).toContain('lost');
    await waitFor(() => player.alive(old).length === 0, 'the old VM to stop', 30_000);
    expect(player.running()).toEqual([second.instanceId]);
    await waitFor(() => workloadProcesses(name).length === 1, 'one workload process', 30_000);

    const r = await cli(['stop', name, '--json'], env.env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ workflowStatus: 'COMPLETED' });
    await waitFor(() => player.running().length === 0, 'every VM to stop', 30_000);
    await waitFor(() => workloadProcesses(name).length === 0, 'the workload to end', 30_000);
  } finally {
    await cli(['stop', name], env.env);
  }
});

test('a capacity error in the chosen zone moves the workload to the next zone and blocks that zone', async () => {
  const name = 'aws-capacity';
  const file = await writeSpec(env, awsSpec(name));
  proxy.clear();
  proxy.fail('RunInstances', { code: 'InsufficientInstanceCapacity', status: 500, times: 1 });
  try {
    expect((await cli(['apply', file], env.env)).code).toBe(0);
    const s = await runningOn(name).catch((err: Error) => {
      throw new Error(`${err.message}\n${diagnose()}`);
    });
    const timeline = s.status!.timeline;
    const tried = timeline
      .filter((e) => e.type === 'provisioning')
      .map((e) => e.message.replace(/^attempt \d+: provisioning /, ''));
    expect(tried).toHaveLength(2);
    expect(tried[0]).not.toBe(tried[1]);
    const failed = timeline.find((e) => e.type === 'provision-failed');
    expect(failed?.message).toMatch(/CapacityError/);
    const firstZone = /aws\/us-east-1\/(\S+) /.exec(tried[0]!)?.[1];
    expect(timeline.find((e) => e.type === 'blocked')?.message).toContain(
      `aws/${REGION}/${firstZone} blocked`,
    );
    // The adapter did not retry the capacity error: one refused launch, then one in the next zone.
    expect(proxy.calls('RunInstances')).toHaveLength(2);
    expect(s.status?.attempts).toBe(2);
  } finally {
    await cli(['stop', name], env.env);
  }
});
