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
const OTHER_REGION = 'us-west-2';
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
  // AWS on moto (two regions), and a dear local T4 pool that only specs allowing it can use.
  await writeFile(
    env.configPath,
    stringify({
      owner,
      providers: {
        local: { pools: [{ name: 'lab-t4', gpus: { type: 'T4', count: 1 }, pricePerGpuHour: 50 }] },
        aws: {
          regions: [REGION, OTHER_REGION],
          endpoint: proxy.endpoint,
          images: { [REGION]: IMAGE_NAME, [OTHER_REGION]: IMAGE_NAME },
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
    regions: [REGION, OTHER_REGION],
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

function awsSpec(name: string, placement: Record<string, unknown> = {}) {
  return serviceSpec(name, {
    resources: { gpu: 'T4:1' },
    placement: { providers: ['aws'], regions: [REGION], ...placement },
    health: { heartbeatTimeout: '5s', startupGrace: '60s' },
  });
}

/** Instances in moto carrying this workload's tag, with their states. */
async function taggedInstances(workload: string): Promise<Array<{ id: string; state?: string }>> {
  const res = await ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'tag:driftless:workload', Values: [workload] }] }),
  );
  return (res.Reservations ?? [])
    .flatMap((r) => r.Instances ?? [])
    .map((i) => ({ id: i.InstanceId!, state: i.State?.Name }));
}

/** What each provisioning attempt in the timeline tried, e.g. "aws/us-east-1/use1-az1 g4dn.xlarge". */
function triedOffers(s: AwsStatus): string[] {
  return s
    .status!.timeline.filter((e) => e.type === 'provisioning')
    .map((e) => e.message.replace(/^attempt \d+: provisioning /, ''));
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
    const tried = triedOffers(s);
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

test('a spot interruption re-places the workload and blocks the interrupted zone', async () => {
  const name = 'aws-spot';
  const file = await writeSpec(env, awsSpec(name, { spot: 'require' }));
  proxy.clear();
  try {
    expect((await cli(['apply', file], env.env)).code).toBe(0);
    const first = await runningOn(name).catch((err: Error) => {
      throw new Error(`${err.message}\n${diagnose()}`);
    });
    expect(triedOffers(first)[0]).toMatch(/\(spot\)$/);
    const old = first.instanceId!;
    // EC2 reclaims the instance: moto terminates it, and the worker's view of it carries the
    // state reason a spot interruption has (moto itself only knows user-initiated shutdowns).
    proxy.rewrite('DescribeInstances', (xml) =>
      xml.replace(/Client\.UserInitiatedShutdown/g, 'Server.SpotInstanceTermination'),
    );
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [old] }));

    const second = await runningOn(name, old).catch((err: Error) => {
      throw new Error(`${err.message}\n${diagnose()}`);
    });
    const timeline = second.status!.timeline;
    expect(timeline.find((e) => e.type === 'lost')?.message).toMatch(
      new RegExp(`lost ${old} .*provider reports the instance preempted`),
    );
    const blocked = timeline.filter((e) => e.type === 'blocked').map((e) => e.message);
    expect(blocked).toEqual([
      expect.stringMatching(new RegExp(`^aws/${REGION}/${first.zone} blocked .* after a preemption$`)),
    ]);
    expect(second.zone).not.toBe(first.zone);
    expect(second.status?.recoveries).toBe(1);
    expect(second.status?.restarts).toBe(0);
    await waitFor(() => player.alive(old).length === 0, 'the interrupted VM to stop', 30_000);
    expect(player.running()).toEqual([second.instanceId]);
  } finally {
    proxy.clear();
    await cli(['stop', name], env.env);
  }
});

test('a quota error in one region moves the workload to the next region and blocks the whole region', async () => {
  const name = 'aws-quota';
  const file = await writeSpec(env, awsSpec(name, { regions: [REGION, OTHER_REGION] }));
  proxy.clear();
  proxy.fail('RunInstances', { code: 'VcpuLimitExceeded', status: 400, region: REGION });
  try {
    expect((await cli(['apply', file], env.env)).code).toBe(0);
    const s = await runningOn(name).catch((err: Error) => {
      throw new Error(`${err.message}\n${diagnose()}`);
    });
    expect(s.region).toBe(OTHER_REGION);
    const tried = triedOffers(s);
    // The cheapest offer is in REGION; after its quota error, no other zone of REGION is tried.
    expect(tried).toHaveLength(2);
    expect(tried[0]).toMatch(new RegExp(`^aws/${REGION}/`));
    expect(tried[1]).toMatch(new RegExp(`^aws/${OTHER_REGION}/`));
    const timeline = s.status!.timeline;
    expect(timeline.find((e) => e.type === 'provision-failed')?.message).toMatch(
      /QuotaError: .*VcpuLimitExceeded|QuotaError/,
    );
    expect(timeline.find((e) => e.type === 'blocked')?.message).toMatch(
      new RegExp(`^aws/${REGION} blocked .* after QuotaError$`),
    );
    expect(proxy.calls('RunInstances').map((c) => c.region)).toEqual([REGION, OTHER_REGION]);
  } finally {
    proxy.clear();
    await cli(['stop', name], env.env);
  }
});

test('refused credentials disable AWS for the workload, which runs on the next provider', async () => {
  const name = 'aws-auth';
  const file = await writeSpec(
    env,
    awsSpec(name, { providers: ['aws', 'local'], regions: [REGION, 'lab-t4'] }),
  );
  proxy.clear();
  proxy.fail('RunInstances', { code: 'UnauthorizedOperation', status: 403 });
  try {
    expect((await cli(['apply', file], env.env)).code).toBe(0);
    const s = await runningOn(name).catch((err: Error) => {
      throw new Error(`${err.message}\n${diagnose()}`);
    });
    expect(s.provider).toBe('local');
    const tried = triedOffers(s);
    expect(tried[0]).toMatch(/^aws\//);
    expect(tried.slice(1).every((t) => t.startsWith('local/'))).toBe(true);
    const timeline = s.status!.timeline;
    expect(timeline.find((e) => e.type === 'provision-failed')?.message).toMatch(/AuthError/);
    expect(timeline.find((e) => e.type === 'blocked')?.message).toMatch(/^aws blocked .* after AuthError$/);
    expect(proxy.calls('RunInstances')).toHaveLength(1);
  } finally {
    proxy.clear();
    await cli(['stop', name], env.env);
  }
});

test('a worker killed after RunInstances took effect but before provision completed leaves exactly one instance', async () => {
  const name = 'aws-crash';
  const file = await writeSpec(env, awsSpec(name));
  proxy.clear();
  // The launch reaches EC2, but its answer never reaches the worker, which is then killed.
  proxy.withholdResponse('RunInstances', 1);
  let second: WorkerProcess | undefined;
  try {
    expect((await cli(['apply', file], env.env)).code).toBe(0);
    await waitFor(async () => (await taggedInstances(name)).length === 1, 'the launch to reach EC2', 60_000);
    await worker.kill('SIGKILL');
    second = await startWorker(env.env);
    worker = second;

    const s = await runningOn(name).catch((err: Error) => {
      throw new Error(`${err.message}\n${diagnose()}`);
    });
    const instances = await taggedInstances(name);
    expect(instances).toEqual([{ id: s.instanceId, state: 'running' }]);
    expect(s.status?.attempts).toBe(1);
    expect(proxy.calls('RunInstances')).toHaveLength(1);
    expect(player.running()).toContain(s.instanceId);
  } finally {
    proxy.clear();
    await cli(['stop', name], env.env);
  }
});
