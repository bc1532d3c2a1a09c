/**
 * Failures through real HTTP: a fault-injecting proxy in front of moto answers chosen EC2
 * actions with EC2's XML errors, drops or withholds answers. The provider must land each in the
 * right taxonomy class and scope, retry only what is transient, and give up within its bounds.
 */
import { DescribeAvailabilityZonesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import * as errors from '../../../src/providers/errors';
import { AWS_TAGS } from '../../../src/providers/aws/tags';
import { waitFor } from '../../support/harness';
import { expectCancelledPromptly } from '../cloud-settings';
import { startFaultProxy } from './fault-proxy';
import {
  REGION,
  describeOne,
  instancesTagged,
  makeProvider,
  offer,
  request,
  useMoto,
  someImageId,
} from './helpers';
import { provisionError as failedProvision } from '../../support/provision-request';

const aws = useMoto();

/** Three tries per call, fast backoff. */
const viaProxy = (over = {}, opts = {}) =>
  makeProvider(aws.proxy.endpoint, { maxAttempts: 3, ...over }, opts);

const provisionError = (p = viaProxy(), o = offer()) => failedProvision(p, request(o));

describe('RunInstances errors land in the taxonomy', () => {
  type Case = [string, number, keyof typeof errors, string];
  test.each<Case>([
    ['InsufficientInstanceCapacity', 500, 'CapacityError', 'zone'],
    ['InsufficientCapacityOnHost', 500, 'CapacityError', 'zone'],
    ['Unsupported', 400, 'CapacityError', 'zone'],
    ['SpotMaxPriceTooLow', 400, 'CapacityError', 'zone'],
    ['IdempotentInstanceTerminated', 400, 'CapacityError', 'zone'],
    ['InstanceLimitExceeded', 400, 'QuotaError', 'region'],
    ['VcpuLimitExceeded', 400, 'QuotaError', 'region'],
    ['MaxSpotInstanceCountExceeded', 400, 'QuotaError', 'region'],
    ['AuthFailure', 401, 'AuthError', 'provider'],
    ['UnauthorizedOperation', 403, 'AuthError', 'provider'],
    ['InvalidParameterValue', 400, 'InvalidRequestError', 'provider'],
    ['InvalidParameterCombination', 400, 'InvalidRequestError', 'provider'],
    ['IdempotentParameterMismatch', 400, 'InvalidRequestError', 'provider'],
    ['OptInRequired', 401, 'ProviderUnavailableError', 'region'],
  ])('%s (HTTP %i) is a %s of scope %s, sent once and not retried', async (code, status, cls, scope) => {
    aws.proxy.fail('RunInstances', { code, status });
    const err = await provisionError(viaProxy(), offer({ spot: code.startsWith('Spot') }));
    expect(err).toBeInstanceOf(errors[cls]);
    expect(err.scope).toBe(scope);
    expect(err.code).toBe(code);
    expect(err.retryable).toBe(false);
    expect(err.location).toEqual({ provider: 'aws', region: REGION, zone: 'use1-az1' });
    expect(aws.proxy.calls('RunInstances')).toHaveLength(1);
  });

  test('a capacity error is not retried by the SDK either: one HTTP request in all, nothing launched', async () => {
    aws.proxy.fail('RunInstances', { code: 'InsufficientInstanceCapacity', status: 500 });
    const req = request(offer());
    await expect(viaProxy().provision(req)).rejects.toBeInstanceOf(errors.CapacityError);
    expect(aws.proxy.calls('RunInstances')).toHaveLength(1);
    expect(await instancesTagged(aws.ec2, { [AWS_TAGS.workflowId]: req.labels.workflowId })).toHaveLength(0);
  });
});

describe('errors of the calls before the launch', () => {
  test('AuthFailure on DescribeAvailabilityZones is an auth error of the provider', async () => {
    aws.proxy.fail('DescribeAvailabilityZones', { code: 'AuthFailure', status: 401 });
    const err = await provisionError();
    expect(err).toBeInstanceOf(errors.AuthError);
    expect(err.scope).toBe('provider');
    expect(aws.proxy.calls('RunInstances')).toHaveLength(0);
  });

  test('InvalidAMIID.NotFound for a configured AMI id is an invalid request', async () => {
    const imageId = await someImageId(aws.ec2);
    aws.proxy.fail('DescribeImages', { code: 'InvalidAMIID.NotFound', status: 400 });
    const err = await provisionError(viaProxy({ images: { [REGION]: imageId, 'us-west-2': imageId } }));
    expect(err).toBeInstanceOf(errors.InvalidRequestError);
    expect(err.code).toBe('InvalidAMIID.NotFound');
    expect(aws.proxy.calls('RunInstances')).toHaveLength(0);
  });
});

describe('transient failures are retried inside the adapter', () => {
  test('InternalError twice, then success: the provision succeeds with one instance after three RunInstances', async () => {
    aws.proxy.fail('RunInstances', { code: 'InternalError', status: 500, times: 2 });
    const req = request(offer());
    const inst = await viaProxy().provision(req);
    expect(aws.proxy.calls('RunInstances')).toHaveLength(3);
    const tagged = await instancesTagged(aws.ec2, { [AWS_TAGS.workflowId]: req.labels.workflowId });
    expect(tagged.map((i) => i.InstanceId)).toEqual([inst.id]);
  });

  test('RequestLimitExceeded on every try gives up after maxAttempts as a retryable transient error', async () => {
    aws.proxy.fail('RunInstances', { code: 'RequestLimitExceeded', status: 503 });
    const err = await provisionError();
    expect(err).toBeInstanceOf(errors.TransientProviderError);
    expect(err.retryable).toBe(true);
    expect(err.code).toBe('RequestLimitExceeded');
    expect(aws.proxy.calls('RunInstances')).toHaveLength(3);
  });

  test('throttled DescribeInstances in describe is retried and then answers', async () => {
    const p = viaProxy();
    const inst = await p.provision(request(offer()));
    aws.proxy.fail('DescribeInstances', { code: 'RequestLimitExceeded', status: 503, times: 2 });
    expect(['pending', 'running']).toContain(await p.describe(inst));
  });

  test('a call past its deadline is retried; a region that never answers becomes unavailable (region scope) within the bounds', async () => {
    aws.proxy.hang('DescribeAvailabilityZones');
    const started = Date.now();
    const err = await provisionError(viaProxy({ callTimeout: '300ms' }));
    expect(err).toBeInstanceOf(errors.ProviderUnavailableError);
    expect(err).toMatchObject({ scope: 'region', code: 'DeadlineExceeded' });
    expect(aws.proxy.calls('DescribeAvailabilityZones')).toHaveLength(3);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test('one call past its deadline, then an answer: the provision succeeds', async () => {
    // A region's first call makes moto build that region: done here, outside the deadline.
    await aws.ec2.send(new DescribeAvailabilityZonesCommand({}));
    await someImageId(aws.ec2);
    aws.proxy.hang('DescribeAvailabilityZones', 1);
    const inst = await viaProxy({ callTimeout: '2s' }).provision(request(offer()));
    expect(inst.id).toMatch(/^i-/);
    expect(aws.proxy.calls('DescribeAvailabilityZones')).toHaveLength(2);
  });

  test('an endpoint that refuses connections makes the region unavailable after the tries', async () => {
    const closed = await startFaultProxy(aws.moto.endpoint);
    await closed.stop();
    const p = makeProvider(closed.endpoint, { maxAttempts: 2 });
    const err = await provisionError(p);
    expect(err).toBeInstanceOf(errors.ProviderUnavailableError);
    expect(err).toMatchObject({ scope: 'region', code: 'NetworkError' });
  });
});

describe('cancellation', () => {
  test("the caller's signal ends a hanging call at once, without waiting for the deadline", async () => {
    // The lookup of the attempt's instance, just before RunInstances.
    aws.proxy.hang('DescribeInstances');
    await expectCancelledPromptly((signal) =>
      viaProxy({ callTimeout: '20s' }).provision({ ...request(offer()), signal }),
    );
    expect(aws.proxy.calls('DescribeInstances')).toHaveLength(1);
    expect(aws.proxy.calls('RunInstances')).toHaveLength(0);
  });

  test('a RunInstances already sent runs to its answer when the signal aborts: the instance is returned, not lost', async () => {
    // It would land at EC2 whatever the caller did; the caller gets it back and ends it by id.
    aws.proxy.delay('RunInstances', 2_000, 1);
    const ac = new AbortController();
    const pending = viaProxy({ callTimeout: '20s' }).provision({ ...request(offer()), signal: ac.signal });
    await waitFor(() => aws.proxy.calls('RunInstances').length === 1, 'RunInstances to be sent', 10_000);
    ac.abort();
    const instance = await pending;
    expect(instance.id).toMatch(/^i-/);
    expect(aws.proxy.calls('RunInstances')).toHaveLength(1);
  });

  test('an already aborted signal sends nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(viaProxy().provision({ ...request(offer()), signal: ac.signal })).rejects.toMatchObject({
      code: 'Cancelled',
    });
    expect(aws.proxy.calls()).toHaveLength(0);
  });
});

describe('eventual consistency just after a launch', () => {
  test('terminate retries a "not found" for an instance it just launched, and the instance ends terminated', async () => {
    const p = viaProxy();
    const inst = await p.provision(request(offer()));
    aws.proxy.fail('TerminateInstances', { code: 'InvalidInstanceID.NotFound', status: 400, times: 2 });
    await p.terminate(inst);
    expect(aws.proxy.calls('TerminateInstances')).toHaveLength(3);
    expect((await describeOne(aws.ec2, inst.id)).State?.Name).toBe('terminated');
  });

  test('describe reports an instance it just launched as pending while EC2 does not list it yet', async () => {
    const p = viaProxy();
    const inst = await p.provision(request(offer()));
    aws.proxy.fail('DescribeInstances', { code: 'InvalidInstanceID.NotFound', status: 400, times: 1 });
    expect(await p.describe(inst)).toBe('pending');
  });

  test('a worker that did not launch it (a provider of its own) also takes "not found" just after the launch as pending', async () => {
    const inst = await viaProxy().provision(request(offer()));
    expect(inst.launchedAt).toBeDefined();
    const otherWorker = viaProxy();
    aws.proxy.fail('DescribeInstances', { code: 'InvalidInstanceID.NotFound', status: 400, times: 1 });
    expect(await otherWorker.describe(inst)).toBe('pending');
    // Terminate there, too, retries rather than taking the instance for gone (a leak).
    aws.proxy.fail('TerminateInstances', { code: 'InvalidInstanceID.NotFound', status: 400, times: 2 });
    await otherWorker.terminate(inst);
    expect(aws.proxy.calls('TerminateInstances')).toHaveLength(3);
    expect((await describeOne(aws.ec2, inst.id)).State?.Name).toBe('terminated');
  });

  test('the window counts from the launch time the ref carries, which EC2 gave, not from when this worker heard of it', async () => {
    const p = viaProxy();
    const inst = await p.provision(request(offer()));
    const old = { ...inst, launchedAt: new Date(Date.now() - 10 * 60_000).toISOString() };
    aws.proxy.fail('DescribeInstances', { code: 'InvalidInstanceID.NotFound', status: 400, times: 1 });
    expect(await p.describe(old)).toBe('not-found');
  });

  test('after the visibility window, "not found" on terminate is success with one call', async () => {
    const p = viaProxy({}, { launchVisibilityMs: 0 });
    const inst = await p.provision(request(offer()));
    aws.proxy.fail('TerminateInstances', { code: 'InvalidInstanceID.NotFound', status: 400 });
    await expect(p.terminate(inst)).resolves.toBeUndefined();
    expect(aws.proxy.calls('TerminateInstances')).toHaveLength(1);
  });
});

describe('spot interruption as EC2 reports it', () => {
  test('an instance EC2 terminated with Server.SpotInstanceTermination is preempted, one the user terminated is terminated', async () => {
    const p = viaProxy();
    const inst = await p.provision(request(offer({ spot: true })));
    await aws.ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.id] }));
    expect(await p.describe(inst)).toBe('terminated');
    // moto cannot interrupt: its real answer, with the reason EC2 gives for an interruption.
    aws.proxy.rewrite(
      'DescribeInstances',
      (xml) => xml.replace(/Client\.UserInitiatedShutdown/g, 'Server.SpotInstanceTermination'),
      1,
    );
    expect(await p.describe(inst)).toBe('preempted');
  });
});
