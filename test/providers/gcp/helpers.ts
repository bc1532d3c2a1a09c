import { GcpProviderConfig, type GcpProviderConfigInput } from '../../../src/providers/gcp/config';
import { GcpProvider, type GcpProviderOptions } from '../../../src/providers/gcp/gcp-provider';
import type { Offer } from '../../../src/providers/types';
import { startFakeGce, type FakeGce, type FakeGceOptions } from '../../support/gcp-server';
import { OWNER, silentLogger, TEST_CLOUD_SETTINGS } from '../cloud-settings';

export { OWNER, request, silentLogger } from '../cloud-settings';

export const PROJECT = 'test-project';
export const ZONE = 'us-central1-a';
export const OTHER_ZONE = 'us-east1-b';

/** Parsed config pointing at the fake, with no credentials and fast retries for tests. */
export function gcpConfig(endpoint: string, over: Partial<GcpProviderConfigInput> = {}): GcpProviderConfig {
  return GcpProviderConfig.parse({
    project: PROJECT,
    zones: [ZONE, 'us-central1-b', OTHER_ZONE],
    endpoint,
    credentials: 'none',
    ...TEST_CLOUD_SETTINGS,
    callTimeout: '5s',
    ...over,
  });
}

/** Providers made here, closed by {@link closeProviders}. */
const made: GcpProvider[] = [];

export function makeProvider(
  fake: FakeGce,
  over: Partial<GcpProviderConfigInput> = {},
  opts: Partial<GcpProviderOptions> = {},
): GcpProvider {
  const p = new GcpProvider({
    config: gcpConfig(fake.endpoint, over),
    owner: OWNER,
    logger: silentLogger,
    ...opts,
  });
  made.push(p);
  return p;
}

export async function closeProviders(): Promise<void> {
  await Promise.all(made.splice(0).map((p) => p.close()));
}

/** A T4 on an N1 host: GPUs attached, not built in. */
export function offer(over: Partial<Offer> = {}): Offer {
  return {
    provider: 'gcp',
    region: 'us-central1',
    zone: ZONE,
    instanceType: 'n1-standard-8',
    gpuType: 'T4',
    gpuCount: 1,
    gpuMemoryGb: 16,
    vcpus: 8,
    memoryGb: 30,
    spot: false,
    pricePerHour: 0.73,
    ...over,
  };
}

/** Waits until `cond` holds, polling every 10 ms, for at most `ms`. */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * One fake Compute Engine for the file, fresh state (and back up) before each test; providers made
 * with {@link makeProvider} and the fake are closed after the file. Returns the fake's getter.
 */
export function useFakeGce(opts: FakeGceOptions = {}): () => FakeGce {
  let fake: FakeGce | undefined;
  beforeAll(async () => {
    fake = await startFakeGce(opts);
  });
  afterAll(async () => {
    await closeProviders();
    await fake?.close();
  });
  beforeEach(async () => {
    await fake!.outage(false);
    fake!.reset();
  });
  return () => fake!;
}
