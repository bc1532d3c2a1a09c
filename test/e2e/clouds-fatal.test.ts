/**
 * Every provider a spec allows failing fatally in one round: AWS (moto behind the fault proxy)
 * refuses the credentials and GCP (the Compute fake) refuses the permission. Nothing can run the
 * workload and nothing will fix itself, so the workflow fails at once with each provider's reason
 * instead of waiting for a location forever, and nothing was launched on either cloud. With one
 * of the two refusing only, it waits (covered in aws.test.ts); here the other half of that rule.
 */
import { randomBytes } from 'node:crypto';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { LOG_LEVEL, serviceSpec } from '../support/harness';
import { playedVmProvider, useE2eInstallation } from '../support/e2e';
import { MOTO_IMAGE_NAME, motoEc2, motoEnv, startMoto, type MotoServer } from '../support/moto';
import { GCE_HTTP_ERRORS, startFakeGce, type FakeGce } from '../support/gcp-server';
import { startFaultProxy, type FaultProxy } from '../providers/aws/fault-proxy';
import { VmPlayer } from '../support/vm-player';

const AWS_REGION = 'us-east-1';
const GCP_REGION = 'us-central1';
const IMAGE_NAME = MOTO_IMAGE_NAME;

let moto: MotoServer;
let proxy: FaultProxy;
let player: VmPlayer;
let fake: FakeGce;
let ec2: EC2Client;
const owner = `e2e-fatal-${randomBytes(3).toString('hex')}`;

const e2e = useE2eInstallation({
  // A local pool the spec does not allow (the config needs one).
  pools: [{ name: 'not-allowed' }],
  config: { owner },
  setup: async () => {
    moto = await startMoto();
    proxy = await startFaultProxy(moto.endpoint);
    ec2 = motoEc2(moto.endpoint, AWS_REGION);
    // Played, so that an instance launched by mistake would show as a running VM too.
    player = new VmPlayer({
      endpoint: moto.endpoint,
      owner,
      regions: [AWS_REGION],
      env: { DRIFTLESS_LOG_LEVEL: LOG_LEVEL },
    });
    await player.start();
    fake = await startFakeGce();
    return {
      config: {
        providers: {
          aws: {
            regions: [AWS_REGION],
            endpoint: proxy.endpoint,
            images: { [AWS_REGION]: IMAGE_NAME },
            ...playedVmProvider('15s'),
          },
          gcp: {
            project: fake.project,
            regions: [GCP_REGION],
            endpoint: fake.endpoint,
            credentials: 'none',
            ...playedVmProvider('5s'),
          },
        },
      },
      env: {
        ...motoEnv(AWS_REGION),
        METADATA_SERVER_DETECTION: 'none',
      },
    };
  },
  teardown: async () => {
    await player?.stop();
    await proxy?.stop();
    ec2?.destroy();
    await moto?.stop();
    await fake?.close();
  },
  timeoutMs: 300_000,
});

async function awsInstancesOf(workload: string): Promise<string[]> {
  const res = await ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'tag:driftless:workload', Values: [workload] }] }),
  );
  return (res.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId!);
}

test('AWS refusing the credentials and GCP the permission in one round fails the workload with both reasons, launching nothing', async () => {
  const name = 'fatal-both';
  e2e.stopAtEnd(name);
  proxy.fail('RunInstances', { code: 'UnauthorizedOperation', status: 403 });
  fake.failHttp('instances.insert', { ...GCE_HTTP_ERRORS.forbidden, times: 1000 });
  const spec = serviceSpec(name, {
    resources: { gpu: 'T4:1' },
    placement: { providers: ['aws', 'gcp'], regions: [AWS_REGION, GCP_REGION] },
    recovery: { maxRestarts: 2, cooldown: '3s' },
  });
  const startedAt = Date.now();
  await e2e.apply(spec);
  const failed = await e2e.waitStatus(name, (s) => s.workflowStatus === 'FAILED', `${name} FAILED`, {
    timeoutMs: 90_000,
  });
  const tookS = (Date.now() - startedAt) / 1000;
  console.log(`every provider refused: workflow FAILED ${tookS.toFixed(1)} s after apply`);
  expect(failed.phase).toBe('FAILED');
  // One reason per provider, each as the provider said it.
  expect(failed.failure).toMatch(/^no provider can run fatal-both: /);
  expect(failed.failure).toMatch(/aws: .*UnauthorizedOperation|aws: .*credentials/i);
  expect(failed.failure).toMatch(/gcp: .*compute\.instances\.create/);
  const timeline = failed.status?.timeline ?? [];
  expect(timeline.filter((e) => e.type === 'no-offer')).toEqual([]); // it did not wait for a location
  expect(timeline.at(-1)).toMatchObject({ type: 'failed' });
  // The CLI reports it as a failure.
  const status = await e2e.cli(['status', name]);
  expect(status.stdout).toMatch(/FAILED/);
  // Neither cloud holds anything of it.
  expect(await awsInstancesOf(name)).toEqual([]);
  expect(fake.calls('instances.insert').length).toBeGreaterThan(0);
  expect(fake.instances().filter((i) => i.labels?.['driftless-workload'] === name)).toEqual([]);
  expect(player.running()).toEqual([]);
});
