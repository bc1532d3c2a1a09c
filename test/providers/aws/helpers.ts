import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import { AwsProvider, type AwsProviderOptions } from '../../../src/providers/aws/aws-provider';
import { AwsProviderConfig, type AwsProviderConfigInput } from '../../../src/providers/aws/config';
import type { Offer } from '../../../src/providers/types';
import { MOTO_CREDENTIALS, MOTO_IMAGE_NAME, motoEc2, startMoto, type MotoServer } from '../../support/moto';
import { startFaultProxy, type FaultProxy } from './fault-proxy';
import { OWNER, silentLogger, TEST_CLOUD_SETTINGS } from '../cloud-settings';

export { OWNER, request, silentLogger } from '../cloud-settings';

export const REGION = 'us-east-1';
export const OTHER_REGION = 'us-west-2';
export const IMAGE_NAME = MOTO_IMAGE_NAME;

/** Parsed config pointing at `endpoint`, with fast retries for tests. */
export function awsConfig(endpoint: string, over: Partial<AwsProviderConfigInput> = {}): AwsProviderConfig {
  return AwsProviderConfig.parse({
    regions: [REGION, OTHER_REGION],
    endpoint,
    images: { [REGION]: IMAGE_NAME, [OTHER_REGION]: IMAGE_NAME },
    ...TEST_CLOUD_SETTINGS,
    callTimeout: '15s',
    ...over,
  });
}

export function makeProvider(
  endpoint: string,
  over: Partial<AwsProviderConfigInput> = {},
  opts: Partial<AwsProviderOptions> = {},
): AwsProvider {
  return new AwsProvider({
    config: awsConfig(endpoint, over),
    owner: OWNER,
    logger: silentLogger,
    credentials: MOTO_CREDENTIALS,
    ...opts,
  });
}

/** A plain SDK client on moto, for looking behind the provider's back. */
export function rawClient(endpoint: string, region = REGION): EC2Client {
  return motoEc2(endpoint, region);
}

export function offer(over: Partial<Offer> = {}): Offer {
  return {
    provider: 'aws',
    region: REGION,
    zone: 'use1-az1',
    instanceType: 'g5.xlarge',
    gpuType: 'A10G',
    gpuCount: 1,
    gpuMemoryGb: 24,
    vcpus: 4,
    memoryGb: 16,
    spot: false,
    pricePerHour: 1.006,
    ...over,
  };
}

/** Instances (any state) carrying these tag values. */
export async function instancesTagged(client: EC2Client, tags: Record<string, string>): Promise<Instance[]> {
  const res = await client.send(
    new DescribeInstancesCommand({
      Filters: Object.entries(tags).map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] })),
    }),
  );
  return (res.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}

export async function describeOne(client: EC2Client, id: string): Promise<Instance> {
  const res = await client.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  const inst = res.Reservations?.[0]?.Instances?.[0];
  if (!inst) throw new Error(`moto does not know ${id}`);
  return inst;
}

/** Id of an image moto has in the region. */
export async function someImageId(client: EC2Client): Promise<string> {
  const res = await client.send(
    new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'name', Values: [IMAGE_NAME] }] }),
  );
  const id = res.Images?.[0]?.ImageId;
  if (!id) throw new Error('moto has no ubuntu image');
  return id;
}

/** Decodes the base64 user data a RunInstances call carried. */
export function decodeUserData(b64: string): string {
  return Buffer.from(b64, 'base64').toString('utf8');
}

/** A moto server, the fault proxy in front of it and a raw client of moto, for one test file. */
export interface MotoFixture {
  moto: MotoServer;
  proxy: FaultProxy;
  /** Talks to moto directly, past the proxy: what EC2 really holds. */
  ec2: EC2Client;
}

/**
 * Starts the fixture before the file's tests and stops it after them; before each test moto
 * forgets every resource and the proxy every fault. Its fields are set once `beforeAll` ran.
 */
export function useMoto(): MotoFixture {
  const f = {} as MotoFixture;
  beforeAll(async () => {
    f.moto = await startMoto();
    f.proxy = await startFaultProxy(f.moto.endpoint);
    f.ec2 = rawClient(f.moto.endpoint);
  }, 300_000);
  afterAll(async () => {
    f.ec2?.destroy();
    await f.proxy?.stop();
    await f.moto?.stop();
  });
  beforeEach(async () => {
    await f.moto.reset();
    f.proxy.clear();
  });
  return f;
}
