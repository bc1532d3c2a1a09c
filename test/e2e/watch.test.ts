/**
 * The batched watch (issue 12): the installation's watcher workflow describes every watched
 * instance in one call per provider and region each interval, whatever their number, and
 * reports an instance once it is gone. Real worker, dev server and moto (through a counting
 * proxy); the 50 instances are launched straight into moto.
 */
import { randomBytes } from 'node:crypto';
import { DescribeImagesCommand, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { WATCHER_WORKFLOW_TYPE } from '../../src/common/names';
import type { InstanceRef } from '../../src/providers/types';
import { watchedQuery } from '../../src/workflows/messages';
import type { WatcherInput } from '../../src/workflows/watcher';
import { sleep, waitFor } from '../support/harness';
import { useE2eInstallation } from '../support/e2e';
import { MOTO_IMAGE_NAME, motoEc2, motoEnv, startMoto, type MotoServer } from '../support/moto';
import { startFaultProxy, type FaultProxy } from '../providers/aws/fault-proxy';

const REGIONS = ['us-east-1', 'us-west-2'];
const IMAGE_NAME = MOTO_IMAGE_NAME;
const PER_REGION = 25;
const INTERVAL_MS = 10_000; // the default watch.interval
const WINDOW_MS = 60_000;

let moto: MotoServer;
let proxy: FaultProxy;
const owner = `e2e-watch-${randomBytes(3).toString('hex')}`;

const e2e = useE2eInstallation({
  pools: [{ name: 'unused' }],
  config: { owner },
  client: true,
  setup: async () => {
    moto = await startMoto();
    proxy = await startFaultProxy(moto.endpoint);
    return {
      config: {
        providers: {
          aws: {
            regions: REGIONS,
            endpoint: proxy.endpoint,
            images: Object.fromEntries(REGIONS.map((r) => [r, IMAGE_NAME])),
            agentInstall: '',
          },
        },
      },
      env: motoEnv(),
    };
  },
  teardown: async () => {
    await proxy?.stop();
    await moto?.stop();
  },
  timeoutMs: 300_000,
});

const ec2 = (region: string) => motoEc2(moto.endpoint, region);

/** Launches `count` instances in a region straight into moto; their refs. */
async function launch(region: string, count: number): Promise<InstanceRef[]> {
  const client = ec2(region);
  try {
    const images = await client.send(
      new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: [IMAGE_NAME] }] }),
    );
    const res = await client.send(
      new RunInstancesCommand({
        ImageId: images.Images![0]!.ImageId!,
        InstanceType: 'g4dn.xlarge',
        MinCount: count,
        MaxCount: count,
      }),
    );
    return res.Instances!.map((i) => ({
      provider: 'aws',
      id: i.InstanceId!,
      region,
      zone: i.Placement!.AvailabilityZone!,
    }));
  } finally {
    client.destroy();
  }
}

test(`50 AWS instances are watched with one DescribeInstances per region per interval, and a gone one is reported`, async () => {
  const refs = (await Promise.all(REGIONS.map((r) => launch(r, PER_REGION)))).flat();
  expect(refs).toHaveLength(50);
  proxy.clear();
  const input: WatcherInput = {
    intervalMs: INTERVAL_MS,
    entries: refs.map((ref, i) => ({ ref, workflowId: `workload-watched-${i}` })),
  };
  const handle = await e2e.client.workflow.start(WATCHER_WORKFLOW_TYPE, {
    workflowId: `watch-test-${randomBytes(3).toString('hex')}`,
    taskQueue: e2e.taskQueue,
    args: [input],
  });
  try {
    await sleep(WINDOW_MS);
    const intervals = WINDOW_MS / INTERVAL_MS;
    for (const region of REGIONS) {
      const calls = proxy.calls('DescribeInstances').filter((c) => c.region === region).length;
      console.log(
        `${region}: ${calls} DescribeInstances for ${PER_REGION} instances in ${WINDOW_MS / 1000}s`,
      );
      // One per interval (and the first at once), never one per instance.
      expect(calls).toBeGreaterThanOrEqual(intervals - 1);
      expect(calls).toBeLessThanOrEqual(intervals + 1);
    }
    // One instance goes: after two "gone" answers in a row the watcher reports it and drops it.
    const [gone] = refs;
    const client = ec2(gone!.region);
    await client.send(new TerminateInstancesCommand({ InstanceIds: [gone!.id] }));
    client.destroy();
    await waitFor(
      async () => !(await handle.query(watchedQuery)).some((e) => e.ref.id === gone!.id),
      `${gone!.id} to be reported gone`,
      3 * INTERVAL_MS + 5000,
    );
    expect(await handle.query(watchedQuery)).toHaveLength(49);
  } finally {
    await handle.terminate('test over');
  }
});
