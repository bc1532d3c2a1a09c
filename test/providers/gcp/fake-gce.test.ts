/**
 * The fake Compute Engine itself, over raw HTTP: it refuses what Compute Engine refuses, so that a
 * provider test passing against it means something. Each rule is cited in test/support/gcp-server.ts.
 */
import { randomUUID } from 'node:crypto';
import { startFakeGce, type FakeGce, type FakeGceOptions } from '../../support/gcp-server';
import { PROJECT, ZONE, until } from './helpers';

const fakes: FakeGce[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

async function fake(opts: FakeGceOptions = {}): Promise<FakeGce> {
  const f = await startFakeGce(opts);
  fakes.push(f);
  return f;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- GCE's JSON, read loosely by the tests
type Body = Record<string, any>;
type Answer = { status: number; body: Body };

async function call(f: FakeGce, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${f.endpoint}/compute/v1/projects/${PROJECT}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Body };
}

const vm = (name: string) => ({ name, machineType: `zones/${ZONE}/machineTypes/n1-standard-4` });
const insert = (f: FakeGce, name: string, requestId?: string) =>
  call(f, 'POST', `/zones/${ZONE}/instances${requestId ? `?requestId=${requestId}` : ''}`, vm(name));

describe('requestId', () => {
  test.each(['not-a-uuid', '00000000-0000-0000-0000-000000000000'])(
    '%s is refused as invalid',
    async (id) => {
      const f = await fake();
      const r = await insert(f, 'vm-1', id);
      expect(r.status).toBe(400);
      expect(r.body.error.errors[0]).toMatchObject({ reason: 'invalid' });
      expect(r.body.error.message).toMatch(/requestId.*must be a valid UUID/);
      expect(f.instances()).toEqual([]);
    },
  );

  test('a repeat within the retention answers the first operation; after it, the repeat is a new request', async () => {
    const f = await fake({ requestIdRetentionMs: 200 });
    const id = randomUUID();
    const first = await insert(f, 'vm-1', id);
    const again = await insert(f, 'vm-1', id);
    expect(again.body.name).toBe(first.body.name);
    await new Promise((r) => setTimeout(r, 250));
    const late = await insert(f, 'vm-1', id);
    expect(late.status).toBe(409);
    expect(late.body.error.message).toBe(
      `The resource 'projects/${PROJECT}/zones/${ZONE}/instances/vm-1' already exists`,
    );
  });
});

describe('lifecycle', () => {
  test('a delete of a PROVISIONING instance is 400 resourceNotReady; once RUNNING it goes through STOPPING', async () => {
    const f = await fake({ provisioningMs: 100, stagingMs: 100 });
    await insert(f, 'vm-1', randomUUID());
    const early = await call(f, 'DELETE', `/zones/${ZONE}/instances/vm-1`);
    expect(early.status).toBe(400);
    expect(early.body.error.errors[0].reason).toBe('resourceNotReady');
    expect(early.body.error.message).toBe(
      `The resource 'projects/${PROJECT}/zones/${ZONE}/instances/vm-1' is not ready`,
    );
    await until(() => f.instance(ZONE, 'vm-1')?.status === 'RUNNING');
    const del = await call(f, 'DELETE', `/zones/${ZONE}/instances/vm-1`);
    expect(del.status).toBe(200);
    expect(f.instance(ZONE, 'vm-1')?.status).toBe('STOPPING');
    await until(() => f.instance(ZONE, 'vm-1') === undefined);
  });

  test('an insert in a DOWN zone ends in an operation error with GCE text, and creates nothing', async () => {
    const f = await fake({ operationMs: 10 });
    f.setZoneStatus(ZONE, 'DOWN');
    const op = await insert(f, 'vm-1', randomUUID());
    await until(() => f.operations(ZONE)[0]?.status === 'DONE');
    const done = await call(f, 'GET', `/zones/${ZONE}/operations/${op.body.name}`);
    expect(done.body.error.errors[0]).toEqual({
      code: 'ZONE_RESOURCE_POOL_EXHAUSTED',
      message: `The zone 'projects/${PROJECT}/zones/${ZONE}' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.`,
    });
    expect(f.instances()).toEqual([]);
  });
});

describe('operations', () => {
  test('the first wait answers at once, before DONE; a later one waits for DONE', async () => {
    const f = await fake({ operationMs: 150 });
    const op = await insert(f, 'vm-1', randomUUID());
    const wait = () => call(f, 'POST', `/zones/${ZONE}/operations/${op.body.name}/wait`);
    expect((await wait()).body.status).toBe('RUNNING');
    expect((await wait()).body.status).toBe('DONE');
  });

  test('a DONE operation expires after the retention: get and wait are 404, list leaves it out', async () => {
    const f = await fake({ operationMs: 10, operationRetentionMs: 50 });
    const op = await insert(f, 'vm-1', randomUUID());
    await until(() => f.operations(ZONE)[0]?.status === 'DONE');
    await new Promise((r) => setTimeout(r, 80));
    expect((await call(f, 'GET', `/zones/${ZONE}/operations/${op.body.name}`)).status).toBe(404);
    expect((await call(f, 'POST', `/zones/${ZONE}/operations/${op.body.name}/wait`)).status).toBe(404);
    expect((await call(f, 'GET', `/zones/${ZONE}/operations`)).body.items).toEqual([]);
  });
});

describe('paging', () => {
  test('lists come in pages of maxResults with a nextPageToken, in name order', async () => {
    const f = await fake();
    for (const n of ['vm-c', 'vm-a', 'vm-b']) f.putInstance(ZONE, { name: n });
    const first = await call(f, 'GET', `/zones/${ZONE}/instances?maxResults=2`);
    expect(first.body.items.map((i: { name: string }) => i.name)).toEqual(['vm-a', 'vm-b']);
    const token = first.body.nextPageToken as string;
    const second = await call(f, 'GET', `/zones/${ZONE}/instances?maxResults=2&pageToken=${token}`);
    expect(second.body.items.map((i: { name: string }) => i.name)).toEqual(['vm-c']);
    expect(second.body.nextPageToken).toBeUndefined();
    expect((await call(f, 'GET', `/zones/${ZONE}/instances?maxResults=501`)).status).toBe(400);
    expect((await call(f, 'GET', `/zones/${ZONE}/operations?pageToken=${token}`)).status).toBe(400);
  });
});

describe('preemption', () => {
  test('a spot instance goes STOPPING, then is deleted (DELETE) with a DONE preempted operation', async () => {
    const f = await fake({ preemptMs: 50 });
    f.putInstance(ZONE, {
      name: 'spot-1',
      scheduling: { provisioningModel: 'SPOT', instanceTerminationAction: 'DELETE' },
    });
    f.preempt(ZONE, 'spot-1');
    expect(f.instance(ZONE, 'spot-1')?.status).toBe('STOPPING');
    expect(f.operations(ZONE)[0]).toMatchObject({
      operationType: 'compute.instances.preempted',
      status: 'RUNNING',
    });
    await until(() => f.instance(ZONE, 'spot-1') === undefined);
    expect(f.operations(ZONE)[0]!.status).toBe('DONE');
  });
});

describe('injected faults', () => {
  test('afterDoing: the insert takes effect and the client sees the error', async () => {
    const f = await fake();
    f.failHttp('instances.insert', { status: 503, reason: 'backendError', afterDoing: true });
    const r = await insert(f, 'vm-1', randomUUID());
    expect(r.status).toBe(503);
    expect(f.instances().map((i) => i.name)).toEqual(['vm-1']);
  });

  test('loseAnswer: the insert takes effect and the connection closes without an answer', async () => {
    const f = await fake();
    f.loseAnswer('instances.insert');
    await expect(insert(f, 'vm-1', randomUUID())).rejects.toThrow();
    expect(f.instances().map((i) => i.name)).toEqual(['vm-1']);
  });
});
