/**
 * The faults the chaos run injects at a rate: the AWS fault proxy's injectAtRate (in front of a
 * stand-in EC2 that answers every call) and the GCE proxy in front of the fake Compute Engine.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startFakeGce, type FakeGce } from '../support/gcp-server';
import { INJECTED_FAULTS, startFaultProxy, type FaultProxy } from '../providers/aws/fault-proxy';
import { startGceFaultProxy, type GceFaultProxy } from './clouds';
import { seededRandom } from '../support/seeded-random';

/** One EC2 Query API call through the proxy: its status and error code, or "lost" when dropped. */
async function ec2Call(endpoint: string, action: string): Promise<string> {
  try {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `Action=${action}&Version=2016-11-15`,
    });
    const text = await res.text();
    return res.ok ? 'ok' : `${res.status} ${/<Code>([^<]+)<\/Code>/.exec(text)?.[1]}`;
  } catch {
    return 'lost';
  }
}

describe('the AWS fault proxy at a rate', () => {
  let ec2: Server;
  let proxy: FaultProxy;
  beforeAll(async () => {
    ec2 = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/xml' }).end('<ok/>'));
    });
    await new Promise<void>((r) => ec2.listen(0, '127.0.0.1', r));
    proxy = await startFaultProxy(`http://127.0.0.1:${(ec2.address() as AddressInfo).port}`);
  });
  afterAll(async () => {
    await proxy.stop();
    await new Promise((r) => ec2.close(r));
  });
  beforeEach(() => proxy.clear());

  test('faults about the rate of the calls, each of a kind allowed for its action, and counts them', async () => {
    proxy.injectAtRate({
      rate: 0.3,
      random: seededRandom(1),
      actions: { RunInstances: INJECTED_FAULTS, '*': ['throttling', '5xx', 'lostAnswer'] },
    });
    const described = [];
    for (let i = 0; i < 300; i++) described.push(await ec2Call(proxy.endpoint, 'DescribeInstances'));
    const faulted = described.filter((r) => r !== 'ok');
    expect(faulted.length).toBeGreaterThan(60);
    expect(faulted.length).toBeLessThan(120);
    // Never a capacity or quota error on a describe.
    expect(new Set(faulted)).toEqual(
      new Set(['503 RequestLimitExceeded', '500 InternalError', '503 Unavailable', 'lost']),
    );
    const { byKind, byAction } = proxy.injected();
    expect(byKind).toEqual({
      capacity: 0,
      quota: 0,
      throttling: faulted.filter((r) => r === '503 RequestLimitExceeded').length,
      '5xx': faulted.filter((r) => r === '500 InternalError' || r === '503 Unavailable').length,
      lostAnswer: faulted.filter((r) => r === 'lost').length,
    });
    expect(byAction).toEqual({ DescribeInstances: faulted.length });
  });

  test('the first calls of an action get the faults named for them, then the draws go on; stopInjecting ends it', async () => {
    proxy.injectAtRate({
      rate: 0.3,
      random: seededRandom(2),
      actions: { RunInstances: INJECTED_FAULTS },
      first: { RunInstances: ['capacity', 'quota'] },
    });
    expect(await ec2Call(proxy.endpoint, 'RunInstances')).toBe('500 InsufficientInstanceCapacity');
    expect(await ec2Call(proxy.endpoint, 'RunInstances')).toMatch(
      /^400 (VcpuLimitExceeded|InstanceLimitExceeded)$/,
    );
    // Actions not listed, with no "*", get nothing.
    for (let i = 0; i < 20; i++) expect(await ec2Call(proxy.endpoint, 'DescribeImages')).toBe('ok');
    proxy.stopInjecting();
    for (let i = 0; i < 20; i++) expect(await ec2Call(proxy.endpoint, 'RunInstances')).toBe('ok');
    expect(proxy.injected().byKind).toMatchObject({ capacity: 1, quota: 1 });
  });

  test('an armed rule goes first: a call it answers draws no fault', async () => {
    proxy.injectAtRate({ rate: 1, random: seededRandom(3), actions: { '*': ['5xx'] } });
    proxy.fail('DescribeInstances', { code: 'AuthFailure', status: 401, times: 1 });
    expect(await ec2Call(proxy.endpoint, 'DescribeInstances')).toBe('401 AuthFailure');
    expect(await ec2Call(proxy.endpoint, 'DescribeInstances')).toMatch(/^50[03] /);
    expect(proxy.injected().byKind['5xx']).toBe(1);
  });
});

describe('the GCE fault proxy of the chaos run', () => {
  let fake: FakeGce;
  let proxy: GceFaultProxy;
  beforeEach(async () => {
    fake = await startFakeGce();
    proxy = await startGceFaultProxy(fake);
  });
  afterEach(async () => {
    await proxy.stop();
    await fake.close();
  });

  /** What GCE answers: an operation, a list, or Google's error JSON. */
  interface GceAnswer {
    name?: string;
    error?: { errors: Array<{ reason: string }> };
  }
  const zone = 'us-central1-a';
  const base = () => `${proxy.endpoint}/compute/v1/projects/${fake.project}/zones/${zone}`;
  const insert = async (name: string) => {
    const res = await fetch(`${base()}/instances?requestId=${crypto.randomUUID()}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name,
        machineType: `zones/${zone}/machineTypes/n1-standard-4`,
        disks: [{ boot: true, initializeParams: { sourceImage: 'projects/debian-cloud/global/images/x' } }],
        networkInterfaces: [{}],
      }),
    });
    return { status: res.status, body: (await res.json()) as GceAnswer };
  };
  /** The insert's error: in the answer, or in its operation once DONE. */
  const insertError = async (name: string): Promise<string | undefined> => {
    const { status, body } = await insert(name);
    if (status !== 200) return body.error?.errors[0]?.reason;
    for (;;) {
      const op = fake.operations(zone).find((o) => o.name === body.name)!;
      if (op.status === 'DONE')
        return (op.error as { errors: Array<{ code: string }> } | undefined)?.errors[0]?.code;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  test('the first inserts meet a capacity and a quota error, as GCE sends them', async () => {
    proxy.inject(0, seededRandom(4));
    expect(await insertError('a')).toBeUndefined();
    proxy.inject(0.3, seededRandom(4));
    expect(await insertError('b')).toBe('ZONE_RESOURCE_POOL_EXHAUSTED');
    expect(await insertError('c')).toMatch(/^(quotaExceeded|QUOTA_EXCEEDED)$/);
    expect(proxy.counts()).toMatchObject({ capacity: 1, quota: 1 });
    expect(fake.instances().map((i) => i.name)).toEqual(['a']);
  });

  test('reads get throttling, 5xx and lost answers at about the rate, counted as they come', async () => {
    proxy.inject(0.3, seededRandom(5));
    const seen: string[] = [];
    for (let i = 0; i < 200; i++) {
      try {
        const res = await fetch(`${base()}/instances`);
        const body = (await res.json()) as GceAnswer;
        seen.push(res.ok ? 'ok' : `${res.status} ${body.error?.errors[0]?.reason}`);
      } catch {
        seen.push('lost');
      }
    }
    const faulted = seen.filter((s) => s !== 'ok');
    expect(faulted.length).toBeGreaterThan(35);
    expect(faulted.length).toBeLessThan(85);
    const c = proxy.counts();
    expect(c).toEqual({
      capacity: 0,
      quota: 0,
      throttling: faulted.filter((s) => /rateLimitExceeded/.test(s)).length,
      '5xx': faulted.filter((s) => /backendError/.test(s)).length,
      lostAnswer: faulted.filter((s) => s === 'lost').length,
    });
    proxy.stopInjecting();
    for (let i = 0; i < 10; i++) expect((await fetch(`${base()}/instances`)).status).toBe(200);
  });
});
