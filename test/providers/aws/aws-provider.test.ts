/**
 * The AWS provider through the real SDK over HTTP to moto's EC2 server on loopback.
 */
import {
  DescribeAvailabilityZonesCommand,
  DescribeInstanceAttributeCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { AWS_TAGS, awsClientToken } from '../../../src/providers/aws/tags';
import { InvalidRequestError } from '../../../src/providers/errors';
import {
  OTHER_REGION,
  OWNER,
  REGION,
  decodeUserData,
  describeOne,
  instancesTagged,
  makeProvider,
  offer,
  request,
  useMoto,
  someImageId,
} from './helpers';

const aws = useMoto();

/** Zone name moto gives an AZ id in a region. */
async function zoneNameOf(zoneId: string, client = aws.ec2): Promise<string> {
  const res = await client.send(new DescribeAvailabilityZonesCommand({}));
  const z = res.AvailabilityZones?.find((x) => x.ZoneId === zoneId);
  if (!z?.ZoneName) throw new Error(`moto has no zone ${zoneId}`);
  return z.ZoneName;
}

describe('offers', () => {
  test('come from the bundled aws catalog, only in the configured regions, named after the provider', async () => {
    const offers = await makeProvider(aws.moto.endpoint).offers();
    const regions = new Set(offers.map((o) => o.region));
    expect(regions).toEqual(new Set([REGION, OTHER_REGION]));
    expect(offers.every((o) => o.provider === 'aws' && /^[a-z0-9]+-az\d+$/.test(o.zone))).toBe(true);
    expect(offers.some((o) => o.instanceType === 'g5.xlarge' && o.zone === 'use1-az1')).toBe(true);
  });

  test('are the injected offers when given, still filtered to the configured regions', async () => {
    const injected = [offer(), offer({ region: 'eu-west-1', zone: 'euw1-az1' })];
    const offers = await makeProvider(aws.moto.endpoint, {}, { catalogOffers: injected }).offers();
    expect(offers.map(({ zoneName: _name, ...o }) => o)).toEqual([injected[0]]);
  });

  test("carry this account's name of each AZ id, so a spec's zones may name either", async () => {
    const zones = await aws.ec2.send(new DescribeAvailabilityZonesCommand({ ZoneIds: ['use1-az1'] }));
    const name = zones.AvailabilityZones![0]!.ZoneName;
    const offers = await makeProvider(aws.moto.endpoint, {}, { catalogOffers: [offer()] }).offers();
    expect(offers[0]).toMatchObject({ zone: 'use1-az1', zoneName: name });
  });

  test('in a region with configured subnets, cover only the zones those subnets are in', async () => {
    const subnets = await aws.ec2.send(new DescribeSubnetsCommand({}));
    const az1 = subnets.Subnets!.find((s) => s.AvailabilityZoneId === 'use1-az1')!;
    const provider = makeProvider(
      aws.moto.endpoint,
      { network: { [REGION]: { subnetIds: [az1.SubnetId!] } } },
      {
        catalogOffers: [
          offer(),
          offer({ zone: 'use1-az2' }),
          offer({ region: OTHER_REGION, zone: 'usw2-az1' }),
        ],
      },
    );
    const offers = await provider.offers();
    expect(offers.map((o) => `${o.region}/${o.zone}`).sort()).toEqual([
      `${REGION}/use1-az1`,
      `${OTHER_REGION}/usw2-az1`,
    ]);
  });
});

describe('provision', () => {
  test('launches in the zone named by the AZ id, with the root disk size, tags on instance and volume, and user data', async () => {
    const provider = makeProvider(aws.proxy.endpoint, { rootDiskGb: 150 });
    const req = request(offer({ zone: 'use1-az2' }), { labels: { workload: 'train', attempt: 3 } });
    const inst = await provider.provision(req);

    expect(inst).toMatchObject({ provider: 'aws', region: REGION, zone: 'use1-az2', offer: req.offer });
    expect(['pending', 'running']).toContain(inst.state);
    expect(inst.id).toMatch(/^i-[0-9a-f]+$/);
    expect(inst.address).toBeDefined();

    const ec2Inst = await describeOne(aws.ec2, inst.id);
    expect(ec2Inst.Placement?.AvailabilityZone).toBe(await zoneNameOf('use1-az2'));
    expect(ec2Inst.InstanceType).toBe('g5.xlarge');
    expect(ec2Inst.InstanceLifecycle).toBeUndefined();
    const expectedTags = {
      [AWS_TAGS.owner]: OWNER,
      [AWS_TAGS.namespace]: req.labels.namespace,
      [AWS_TAGS.installation]: req.labels.installation,
      [AWS_TAGS.workload]: 'train',
      [AWS_TAGS.workflowId]: req.labels.workflowId,
      [AWS_TAGS.attempt]: '3',
      [AWS_TAGS.request]: awsClientToken(req.idempotencyKey, 'g5.xlarge', 'use1-az2'),
      Name: 'driftless-train-3',
    };
    expect(Object.fromEntries(ec2Inst.Tags!.map((t) => [t.Key, t.Value]))).toEqual(expectedTags);

    const vols = await aws.ec2.send(
      new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [inst.id] }] }),
    );
    expect(vols.Volumes).toHaveLength(1);
    expect(vols.Volumes![0]!.Size).toBe(150);
    expect(vols.Volumes![0]!.VolumeType).toBe('gp3');
    expect(Object.fromEntries(vols.Volumes![0]!.Tags!.map((t) => [t.Key, t.Value]))).toEqual(expectedTags);

    // What went over the wire: tags in the create call itself, one instance, the token.
    const [run] = aws.proxy.calls('RunInstances');
    expect(run!.params.get('TagSpecification.1.ResourceType')).toBe('instance');
    expect(run!.params.get('TagSpecification.2.ResourceType')).toBe('volume');
    expect(run!.params.get('MinCount')).toBe('1');
    expect(run!.params.get('MaxCount')).toBe('1');
    expect(run!.params.get('ClientToken')).toBe(awsClientToken(req.idempotencyKey, 'g5.xlarge', 'use1-az2'));
    expect(run!.params.get('MetadataOptions.HttpTokens')).toBe('required');
    expect(run!.params.get('BlockDeviceMapping.1.Ebs.DeleteOnTermination')).toBe('true');

    const attr = await aws.ec2.send(
      new DescribeInstanceAttributeCommand({ InstanceId: inst.id, Attribute: 'userData' }),
    );
    const script = decodeUserData(attr.UserData!.Value!);
    expect(script).toMatch(/^#!\/bin\/bash\n/);
    expect(script).toContain("export TEMPORAL_ADDRESS='temporal.example:7233'");
    expect(script).toContain("export TEMPORAL_NAMESPACE='prod'");
    expect(script).toContain('npm install -g https://example.com/driftless-0.1.0.tgz');
    expect(script).toContain('/latest/meta-data/instance-id');
  });

  test('asks for a one-time spot instance that terminates on interruption when the offer is spot', async () => {
    const provider = makeProvider(aws.proxy.endpoint);
    const inst = await provider.provision(request(offer({ spot: true, pricePerHour: 0.4 })));
    const [run] = aws.proxy.calls('RunInstances');
    expect(run!.params.get('InstanceMarketOptions.MarketType')).toBe('spot');
    expect(run!.params.get('InstanceMarketOptions.SpotOptions.SpotInstanceType')).toBe('one-time');
    expect(run!.params.get('InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior')).toBe(
      'terminate',
    );
    expect((await describeOne(aws.ec2, inst.id)).InstanceLifecycle).toBe('spot');
    expect(inst.details?.lifecycle).toBe('spot');
  });

  test('sends no market options for an on-demand offer', async () => {
    await makeProvider(aws.proxy.endpoint).provision(request(offer()));
    expect(aws.proxy.calls('RunInstances')[0]!.params.has('InstanceMarketOptions.MarketType')).toBe(false);
  });

  test('uses a configured AMI id as it is', async () => {
    const imageId = await someImageId(aws.ec2);
    const provider = makeProvider(aws.moto.endpoint, {
      images: { [REGION]: imageId, [OTHER_REGION]: imageId },
    });
    const inst = await provider.provision(request(offer()));
    expect((await describeOne(aws.ec2, inst.id)).ImageId).toBe(imageId);
  });

  test('launches into the configured subnet of the offer zone, with the configured security groups', async () => {
    const subnets = await aws.ec2.send(new DescribeSubnetsCommand({}));
    const az1 = subnets.Subnets!.find((s) => s.AvailabilityZoneId === 'use1-az1')!;
    const az2 = subnets.Subnets!.find((s) => s.AvailabilityZoneId === 'use1-az2')!;
    const provider = makeProvider(aws.moto.endpoint, {
      network: { [REGION]: { subnetIds: [az2.SubnetId!, az1.SubnetId!] } },
    });
    const inst = await provider.provision(request(offer({ zone: 'use1-az1' })));
    expect((await describeOne(aws.ec2, inst.id)).SubnetId).toBe(az1.SubnetId);
  });

  test('retried with the same request, returns the same instance and launches nothing more', async () => {
    const provider = makeProvider(aws.proxy.endpoint);
    const req = request(offer());
    const first = await provider.provision(req);
    const again = await makeProvider(aws.proxy.endpoint).provision(req);
    expect(again.id).toBe(first.id);
    expect(aws.proxy.calls('RunInstances')).toHaveLength(1);
    expect(await instancesTagged(aws.ec2, { [AWS_TAGS.workflowId]: req.labels.workflowId })).toHaveLength(1);
  });

  test('after a launch whose answer was lost (RunInstances sent with the same token), returns that instance', async () => {
    const provider = makeProvider(aws.proxy.endpoint);
    const req = request(offer());
    // What the lost call did: the same token and the same tags at launch.
    const imageId = await someImageId(aws.ec2);
    const token = awsClientToken(req.idempotencyKey, 'g5.xlarge', 'use1-az1');
    const tags = [
      { Key: AWS_TAGS.owner, Value: OWNER },
      { Key: AWS_TAGS.workload, Value: req.labels.workload },
      { Key: AWS_TAGS.workflowId, Value: req.labels.workflowId },
      { Key: AWS_TAGS.attempt, Value: String(req.labels.attempt) },
      { Key: AWS_TAGS.request, Value: token },
    ];
    const lost = await aws.ec2.send(
      new RunInstancesCommand({
        ImageId: imageId,
        InstanceType: 'g5.xlarge',
        MinCount: 1,
        MaxCount: 1,
        ClientToken: token,
        Placement: { AvailabilityZone: await zoneNameOf('use1-az1') },
        TagSpecifications: [{ ResourceType: 'instance', Tags: tags }],
      }),
    );
    const inst = await provider.provision(req);
    expect(inst.id).toBe(lost.Instances![0]!.InstanceId);
    expect(aws.proxy.calls('RunInstances')).toHaveLength(0);
    expect(await instancesTagged(aws.ec2, { [AWS_TAGS.workflowId]: req.labels.workflowId })).toHaveLength(1);
  });

  test('when the connection drops after EC2 launched, retries, finds the launched instance by its tags and leaves exactly one', async () => {
    aws.proxy.dropResponse('RunInstances', 1);
    const provider = makeProvider(aws.proxy.endpoint);
    const req = request(offer());
    const inst = await provider.provision(req);
    const tagged = await instancesTagged(aws.ec2, { [AWS_TAGS.workflowId]: req.labels.workflowId });
    expect(tagged.map((i) => i.InstanceId)).toEqual([inst.id]);
    expect(aws.proxy.calls('RunInstances')).toHaveLength(1);
  });

  /** An instance launched outside the provider, tagged as `tags` say. */
  async function launchTagged(tags: Record<string, string>) {
    const res = await aws.ec2.send(
      new RunInstancesCommand({
        ImageId: await someImageId(aws.ec2),
        InstanceType: 'g5.xlarge',
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [
          { ResourceType: 'instance', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
        ],
      }),
    );
    return res.Instances![0]!.InstanceId!;
  }

  test("finds an instance already tagged with the attempt's request before launching", async () => {
    const req = request(offer(), { labels: { attempt: 7 } });
    const token = awsClientToken(req.idempotencyKey, req.offer.instanceType, req.offer.zone);
    const existing = await launchTagged({
      [AWS_TAGS.owner]: OWNER,
      [AWS_TAGS.workflowId]: req.labels.workflowId,
      [AWS_TAGS.attempt]: '7',
      [AWS_TAGS.request]: token,
    });
    const inst = await makeProvider(aws.proxy.endpoint).provision(req);
    expect(inst.id).toBe(existing);
    expect(aws.proxy.calls('RunInstances')).toHaveLength(0);
    const lookup = aws.proxy.calls('DescribeInstances')[0]!.params;
    const filters = new Map<string, string>();
    for (let n = 1; lookup.has(`Filter.${n}.Name`); n++) {
      filters.set(lookup.get(`Filter.${n}.Name`)!, lookup.get(`Filter.${n}.Value.1`)!);
    }
    expect(filters.get(`tag:${AWS_TAGS.owner}`)).toBe(OWNER);
    expect(filters.get(`tag:${AWS_TAGS.workflowId}`)).toBe(req.labels.workflowId);
    expect(filters.get(`tag:${AWS_TAGS.attempt}`)).toBe('7');
    expect(filters.get(`tag:${AWS_TAGS.request}`)).toBe(token);
  });

  test('never adopts what an earlier execution of the same workflow left with the same attempt number', async () => {
    // A workflow terminated hard, then applied again: same workflow id, attempts from 1 again.
    const labels = { workflowId: 'workload-again', attempt: 1 };
    const key = (run: string) => `workload-again/${run}/1/aws/use1-az1/g5.xlarge`;
    const provider = makeProvider(aws.moto.endpoint);
    const earlier = await provider.provision(request(offer(), { idempotencyKey: key('run-1'), labels }));
    const now = await provider.provision(request(offer(), { idempotencyKey: key('run-2'), labels }));
    expect(now.id).not.toBe(earlier.id);
    // The same execution retrying still gets its own instance back.
    const retried = await provider.provision(request(offer(), { idempotencyKey: key('run-2'), labels }));
    expect(retried.id).toBe(now.id);
  });

  test('launches a new instance for the next attempt and ignores a terminated one of the same attempt', async () => {
    const provider = makeProvider(aws.moto.endpoint);
    const req1 = request(offer(), { labels: { attempt: 1 } });
    const first = await provider.provision(req1);
    const second = await provider.provision(
      request(offer(), { labels: { workflowId: req1.labels.workflowId, attempt: 2 } }),
    );
    expect(second.id).not.toBe(first.id);

    await aws.ec2.send(new TerminateInstancesCommand({ InstanceIds: [first.id] }));
    // A different key (moto does not enforce tokens), so only the lookup could return the dead one.
    const again = await provider.provision({ ...req1, idempotencyKey: `${req1.idempotencyKey}/retry` });
    expect(again.id).not.toBe(first.id);
  });

  test('refuses an offer in a region that is not configured, without calling EC2', async () => {
    const provider = makeProvider(aws.proxy.endpoint);
    await expect(
      provider.provision(request(offer({ region: 'eu-west-1', zone: 'euw1-az1' }))),
    ).rejects.toBeInstanceOf(InvalidRequestError);
    expect(aws.proxy.calls()).toHaveLength(0);
  });

  test('fails a zone the region does not have with a capacity error of that zone', async () => {
    const provider = makeProvider(aws.moto.endpoint);
    await expect(provider.provision(request(offer({ zone: 'use1-az99' })))).rejects.toMatchObject({
      name: 'CapacityError',
      scope: 'zone',
      code: 'ZoneNotAvailable',
      location: { provider: 'aws', region: REGION, zone: 'use1-az99' },
    });
  });

  test('fails with an invalid request naming the image when no image of that name exists', async () => {
    const provider = makeProvider(aws.moto.endpoint, {
      images: { [REGION]: 'no-such-image-*', [OTHER_REGION]: 'no-such-image-*' },
    });
    await expect(provider.provision(request(offer()))).rejects.toMatchObject({
      name: 'InvalidRequestError',
      code: 'ImageNotFound',
      message: expect.stringContaining('no-such-image-*'),
    });
  });
});

describe('describe', () => {
  test('reports a launched instance as pending or running, and terminated after termination', async () => {
    const provider = makeProvider(aws.moto.endpoint);
    const inst = await provider.provision(request(offer()));
    expect(['pending', 'running']).toContain(await provider.describe(inst));
    await aws.ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.id] }));
    expect(await provider.describe(inst)).toBe('terminated');
  });

  test('reports a stopped instance as stopped', async () => {
    const provider = makeProvider(aws.moto.endpoint);
    const inst = await provider.provision(request(offer()));
    const { StopInstancesCommand } = await import('@aws-sdk/client-ec2');
    await aws.ec2.send(new StopInstancesCommand({ InstanceIds: [inst.id] }));
    expect(await provider.describe(inst)).toBe('stopped');
  });

  test('reports an id EC2 does not know as not-found', async () => {
    const provider = makeProvider(aws.moto.endpoint);
    const ref = { provider: 'aws', id: 'i-0123456789abcdef0', region: REGION, zone: 'use1-az1' };
    expect(await provider.describe(ref)).toBe('not-found');
  });
});

describe('terminate', () => {
  test('terminates the instance, and a second terminate of it succeeds too', async () => {
    const provider = makeProvider(aws.moto.endpoint);
    const inst = await provider.provision(request(offer()));
    await provider.terminate(inst);
    expect((await describeOne(aws.ec2, inst.id)).State?.Name).toBe('terminated');
    await expect(provider.terminate(inst)).resolves.toBeUndefined();
  });

  test('of an id EC2 does not know succeeds', async () => {
    const provider = makeProvider(aws.moto.endpoint);
    const ref = { provider: 'aws', id: 'i-0123456789abcdef0', region: REGION, zone: 'use1-az1' };
    await expect(provider.terminate(ref)).resolves.toBeUndefined();
  });
});

describe('listOwned', () => {
  test("lists this owner's live instances in every configured region with their labels, skipping terminated ones and other owners", async () => {
    const mine = makeProvider(aws.moto.endpoint);
    const theirs = makeProvider(aws.moto.endpoint, {}, { owner: 'someone-else' });
    const a = await mine.provision(request(offer(), { labels: { workload: 'a', attempt: 1 } }));
    const b = await mine.provision(
      request(offer({ region: OTHER_REGION, zone: 'usw2-az2' }), { labels: { workload: 'b', attempt: 4 } }),
    );
    const gone = await mine.provision(request(offer({ zone: 'use1-az2' })));
    await mine.terminate(gone);
    await theirs.provision(request(offer(), { labels: { owner: 'someone-else' } }));

    const owned = await mine.listOwned(OWNER);
    const byId = new Map(owned.map((r) => [r.id, r]));
    expect([...byId.keys()].sort()).toEqual([a.id, b.id].sort());
    expect(byId.get(a.id)).toMatchObject({
      provider: 'aws',
      region: REGION,
      zone: 'use1-az1',
      labels: { owner: OWNER, workload: 'a', attempt: 1 },
    });
    expect(byId.get(b.id)).toMatchObject({
      region: OTHER_REGION,
      zone: 'usw2-az2',
      labels: { owner: OWNER, workload: 'b', attempt: 4 },
    });
    expect(byId.get(a.id)!.labels!.workflowId).toMatch(/^workload-/);
  });

  test("reports each instance's launch time (so the grace period applies) and its installation marks", async () => {
    const p = makeProvider(aws.moto.endpoint);
    const before = Date.now();
    const a = await p.provision(
      request(offer(), { labels: { namespace: 'prod', installation: 'inst-a', attempt: 2 } }),
    );
    const [owned] = await p.listOwned(OWNER);
    expect(owned).toMatchObject({
      id: a.id,
      labels: { owner: OWNER, namespace: 'prod', installation: 'inst-a', attempt: 2 },
    });
    const launched = Date.parse(owned!.launchedAt!);
    // EC2's LaunchTime has whole seconds.
    expect(launched).toBeGreaterThanOrEqual(before - 2000);
    expect(launched).toBeLessThanOrEqual(Date.now());
    // The provision's answer carries it too: any worker can tell how young the instance is.
    expect(a.launchedAt).toBe(owned!.launchedAt);
  });

  test('lists nothing for an owner with no instances', async () => {
    const provider = makeProvider(aws.moto.endpoint);
    await provider.provision(request(offer()));
    expect(await provider.listOwned('nobody')).toEqual([]);
  });
});
