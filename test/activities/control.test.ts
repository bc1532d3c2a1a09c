/**
 * The control activities' own rules, run in the SDK's activity test environment against a
 * provider that answers a scripted sequence of states: watchInstance's two-misses rule,
 * waitReady's three outcomes, and place's target/avoid filter.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createActivities } from '../../src/activities';
import { FailureType } from '../../src/common/names';
import type { InstanceRef, InstanceState, Offer, Provider } from '../../src/providers/types';
import { WorkloadSpec } from '../../src/spec/workload-spec';
import type { PlaceResult } from '../../src/activities';

const REF: InstanceRef = { provider: 'scripted', id: 'i-1', region: 'r1', zone: 'r1-a' };

/** A provider whose describe answers `script` in turn (an Error entry is thrown), then repeats the last. */
function scripted(script: Array<InstanceState | Error>, offers: Offer[] = []) {
  const seen: string[] = [];
  let i = 0;
  const provider = {
    name: 'scripted',
    offers: async () => offers,
    describe: async () => {
      const next = script[Math.min(i++, script.length - 1)]!;
      seen.push(next instanceof Error ? 'error' : next);
      if (next instanceof Error) throw next;
      return next;
    },
  } as unknown as Provider;
  return { provider, seen };
}

function activities(provider: Provider) {
  return createActivities({
    providers: new Map([[provider.name, provider]]),
    logger: pino({ level: 'silent' }),
    owner: 'test',
    installation: { namespace: 'default', id: 'test' },
    agentTemporal: () => ({ address: '127.0.0.1:7233', namespace: 'default' }),
  });
}

const env = () => new MockActivityEnvironment({ scheduledTimestampMs: Date.now() });

describe('watchInstance: gone only after two misses in a row', () => {
  test('one "terminated" between "running" answers is not a loss; two in a row are', async () => {
    const { provider, seen } = scripted(['running', 'terminated', 'running', 'terminated', 'terminated']);
    const r = await env().run(activities(provider).watchInstance, { ref: REF, intervalMs: 5 });
    expect(r).toEqual({ state: 'terminated' });
    expect(seen).toEqual(['running', 'terminated', 'running', 'terminated', 'terminated']);
  });

  test('a failed describe is neither a miss nor a sighting: the misses around it add up', async () => {
    const { provider, seen } = scripted(['preempted', new Error('throttled'), 'preempted']);
    const r = await env().run(activities(provider).watchInstance, { ref: REF, intervalMs: 5 });
    expect(r).toEqual({ state: 'preempted' });
    expect(seen).toEqual(['preempted', 'error', 'preempted']);
  });

  test('the threshold is the number of misses in a row', async () => {
    const { provider, seen } = scripted([
      'not-found',
      'not-found',
      'running',
      'not-found',
      'not-found',
      'not-found',
    ]);
    const r = await env().run(activities(provider).watchInstance, { ref: REF, intervalMs: 5, threshold: 3 });
    expect(r).toEqual({ state: 'not-found' });
    expect(seen).toHaveLength(6);
  });
});

describe('waitReady', () => {
  test('returns once the instance is running', async () => {
    const { provider, seen } = scripted(['pending', 'pending', 'running']);
    await env().run(activities(provider).waitReady, { ref: REF, timeoutMs: 30_000 });
    expect(seen).toEqual(['pending', 'pending', 'running']);
  });

  test('an instance that ends before it is ready fails at once, not retryable', async () => {
    const { provider } = scripted(['pending', 'terminated']);
    const err = await env()
      .run(activities(provider).waitReady, { ref: REF, timeoutMs: 30_000 })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      type: FailureType.InstanceNotReady,
      nonRetryable: true,
      message: 'instance i-1 is terminated before it became ready',
    });
  });

  test('an instance still pending past the timeout fails, naming its state', async () => {
    const { provider } = scripted(['pending']);
    const err = await env()
      .run(activities(provider).waitReady, { ref: REF, timeoutMs: 600 })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      type: FailureType.InstanceNotReady,
      message: 'instance i-1 not ready within 0.6s (state pending)',
    });
  });

  test('describe failures while waiting are not fatal', async () => {
    const { provider, seen } = scripted([new Error('5xx'), 'running']);
    await env().run(activities(provider).waitReady, { ref: REF, timeoutMs: 30_000 });
    expect(seen).toEqual(['error', 'running']);
  });
});

describe('place: a migration target and the location it leaves', () => {
  const offer = (region: string, zone: string, price: number): Offer => ({
    provider: 'scripted',
    region,
    zone,
    instanceType: `t-${zone}`,
    gpuType: 'A100',
    gpuCount: 1,
    gpuMemoryGb: 40,
    vcpus: 8,
    memoryGb: 64,
    spot: false,
    pricePerHour: price,
  });
  const offers = [offer('r1', 'r1-a', 1), offer('r1', 'r1-b', 2), offer('r2', 'r2-a', 3)];
  const spec = WorkloadSpec.parse({
    name: 'w',
    kind: 'service',
    command: ['x'],
    resources: { gpu: 'A100:1' },
  });

  test('without a target the cheapest offer comes first', async () => {
    const { provider } = scripted([], offers);
    const r: PlaceResult = await env().run(activities(provider).place, { spec, blocks: [] });
    expect(r.ranked.map((o) => o.zone)).toEqual(['r1-a', 'r1-b', 'r2-a']);
  });

  test('avoid: never the zone the workload leaves', async () => {
    const { provider } = scripted([], offers);
    const r: PlaceResult = await env().run(activities(provider).place, {
      spec,
      blocks: [],
      avoid: { provider: 'scripted', region: 'r1', zone: 'r1-a' },
    });
    expect(r.ranked.map((o) => o.zone)).not.toContain('r1-a');
    expect(r.ranked[0]?.zone).toBe('r1-b');
  });

  test('a target keeps only offers there', async () => {
    const { provider } = scripted([], offers);
    const r: PlaceResult = await env().run(activities(provider).place, {
      spec,
      blocks: [],
      target: { provider: 'scripted', region: 'r2' },
    });
    expect(r.ranked.map((o) => o.zone)).toEqual(['r2-a']);
  });
});
