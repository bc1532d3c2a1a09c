/**
 * The provider against the strict parts of the fake Compute Engine: answers lost after the call
 * took effect, deletes of instances still booting, operations GCE no longer knows, operations
 * that wait answers before they are done, paged lists, and a zone that is DOWN.
 */
import * as taxonomy from '../../../src/providers/errors';
import { GCE_HTTP_ERRORS, startFakeGce, type FakeGce, type FakeGceOptions } from '../../support/gcp-server';
import { provisionError } from '../../support/provision-request';
import { OWNER, ZONE, makeProvider, offer, request, until, useFakeGce } from './helpers';

const fakeGce = useFakeGce();

/** A fake of its own (other delays than the file's), closed after `fn`. */
async function withFake(opts: FakeGceOptions, fn: (fake: FakeGce) => Promise<void>): Promise<void> {
  const fake = await startFakeGce(opts);
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}

const names = (fake: FakeGce) =>
  fake
    .instances()
    .map((i) => i.name)
    .sort();

describe('an insert whose answer is lost', () => {
  test('the connection dropped after the insert: resent with the same requestId, one instance, the one returned', async () => {
    fakeGce().loseAnswer('instances.insert');
    const inst = await makeProvider(fakeGce()).provision(request(offer()));
    const inserts = fakeGce().calls('instances.insert');
    expect(inserts).toHaveLength(2);
    expect(inserts[1]!.requestId).toBe(inserts[0]!.requestId);
    expect(names(fakeGce())).toEqual([inst.id]);
  });

  test('a 503 answered after the insert took effect: one instance, the one returned', async () => {
    fakeGce().failHttp('instances.insert', { ...GCE_HTTP_ERRORS.backendError, afterDoing: true, times: 2 });
    const inst = await makeProvider(fakeGce(), { maxAttempts: 3 }).provision(request(offer()));
    expect(fakeGce().calls('instances.insert')).toHaveLength(3);
    expect(names(fakeGce())).toEqual([inst.id]);
  });

  test('resent after GCE forgot the requestId: alreadyExists, and the instance is found by name and labels', async () => {
    fakeGce().loseAnswer('instances.insert');
    fakeGce().onRequest((r) => {
      if (r.rpc === 'instances.insert' && fakeGce().calls('instances.insert').length === 2) {
        fakeGce().forgetRequestIds();
      }
    });
    try {
      const inst = await makeProvider(fakeGce()).provision(request(offer()));
      expect(names(fakeGce())).toEqual([inst.id]);
      expect(
        fakeGce()
          .calls('instances.get')
          .map((c) => c.path.split('/').pop()),
      ).toContain(inst.id);
    } finally {
      fakeGce().removeAllListeners('request');
    }
  });

  test('the insert operation gone from GCE before it was polled: the instance is found by name', async () => {
    await withFake({ operationRetentionMs: 0, earlyWaits: 0 }, async (fake) => {
      fake.slow('zoneOperations.wait', 200);
      const inst = await makeProvider(fake).provision(request(offer()));
      expect(fake.calls('instances.insert')).toHaveLength(1);
      expect(names(fake)).toEqual([inst.id]);
      expect(fake.operations(ZONE)).toEqual([]);
    });
  });
});

describe('deleting an instance that is still booting', () => {
  test('GCE refuses the delete (resourceNotReady); terminate waits until it has booted and deletes it', async () => {
    await withFake({ provisioningMs: 300, stagingMs: 300 }, async (fake) => {
      const p = makeProvider(fake);
      const inst = await p.provision(request(offer()));
      expect(fake.instance(ZONE, inst.id)?.status).toMatch(/^(PROVISIONING|STAGING)$/);
      await p.terminate(inst);
      expect(fake.instance(ZONE, inst.id)).toBeUndefined();
      const deletes = fake.calls('instances.delete');
      expect(deletes.length).toBeGreaterThanOrEqual(2);
      // The refused tries created nothing: the same request is sent again.
      expect(new Set(deletes.map((d) => d.requestId)).size).toBe(1);
      expect(fake.operations(ZONE).filter((o) => o.operationType === 'delete')).toHaveLength(1);
    });
  });

  test('an instance that does not boot within the wait is a transient failure, and the instance stays', async () => {
    await withFake({ provisioningMs: 10_000 }, async (fake) => {
      const p = makeProvider(fake, { operationTimeout: '300ms' });
      const inst = await p.provision(request(offer()));
      const err = await p.terminate(inst).catch((e: unknown) => e);
      // Never InvalidRequestError: that would make the workflow give up on a billed machine.
      expect(err).toBeInstanceOf(taxonomy.TransientProviderError);
      expect(err).toMatchObject({ retryable: true, code: 'resourceNotReady' });
      expect(fake.instance(ZONE, inst.id)?.status).toBe('PROVISIONING');
    });
  });

  test("GCE's resourceNotReady text is classified transient, not an invalid request", async () => {
    const p = makeProvider(fakeGce());
    const inst = await p.provision(request(offer()));
    await until(() => fakeGce().instance(ZONE, inst.id)?.status === 'RUNNING');
    fakeGce().failHttp('instances.delete', GCE_HTTP_ERRORS.resourceNotReady);
    await p.terminate(inst);
    expect(fakeGce().instance(ZONE, inst.id)).toBeUndefined();
    expect(fakeGce().calls('instances.delete')).toHaveLength(2);
  });

  test('a delete operation gone from GCE before it was polled: the instance is checked, and it is gone', async () => {
    await withFake({ operationRetentionMs: 0, earlyWaits: 0 }, async (fake) => {
      const p = makeProvider(fake);
      const inst = await p.provision(request(offer()));
      await until(() => fake.instance(ZONE, inst.id)?.status === 'RUNNING');
      fake.slow('zoneOperations.wait', 200);
      await p.terminate(inst);
      expect(fake.instance(ZONE, inst.id)).toBeUndefined();
      expect(fake.calls('instances.delete')).toHaveLength(1);
    });
  });
});

describe('operations and lists as GCE serves them', () => {
  test('every operation needs more than one wait (the first answers at once), and provision polls on', async () => {
    await withFake({ operationMs: 300 }, async (fake) => {
      await makeProvider(fake).provision(request(offer()));
      const waits = fake.calls('zoneOperations.wait');
      expect(waits).toHaveLength(2);
      expect(new Set(waits.map((w) => w.path)).size).toBe(1);
      expect(fake.operations(ZONE)[0]!.status).toBe('DONE');
    });
  });

  test('an insert operation that never finishes fails the zone after operationTimeout', async () => {
    fakeGce().holdOperations('instances.insert');
    const err = await provisionError(
      makeProvider(fakeGce(), { operationTimeout: '400ms' }),
      request(offer()),
    );
    expect(err).toBeInstanceOf(taxonomy.CapacityError);
    expect(err).toMatchObject({ code: 'OperationTimeout', scope: 'zone' });
    fakeGce().releaseOperations();
  });

  test('listOwned follows nextPageToken through every page of the aggregated list', async () => {
    await withFake({ maxPageSize: 1 }, async (fake) => {
      const p = makeProvider(fake);
      const made = await Promise.all([1, 2, 3].map(() => p.provision(request(offer()))));
      const owned = await p.listOwned(OWNER);
      expect(owned.map((o) => o.id).sort()).toEqual(made.map((i) => i.id).sort());
      const lists = fake.calls('instances.aggregatedList');
      expect(lists).toHaveLength(3);
      expect(lists[0]!.query.pageToken).toBeUndefined();
      expect(lists[1]!.query.pageToken).toBeDefined();
    });
  });

  test("describe follows the operations list's pages to the preemption (listed after the insert)", async () => {
    await withFake({ maxPageSize: 1 }, async (fake) => {
      const p = makeProvider(fake);
      const inst = await p.provision(request(offer({ spot: true })));
      await until(() => fake.instance(ZONE, inst.id)?.status === 'RUNNING');
      fake.preempt(ZONE, inst.id);
      await until(() => fake.instance(ZONE, inst.id) === undefined);
      expect(await p.describe(inst)).toBe('preempted');
      expect(fake.calls('zoneOperations.list').length).toBeGreaterThanOrEqual(2);
    });
  });

  test('a DOWN zone creates nothing: provision fails with a capacity error of that zone', async () => {
    fakeGce().setZoneStatus(ZONE, 'DOWN');
    const err = await provisionError(makeProvider(fakeGce()), request(offer()));
    expect(err).toBeInstanceOf(taxonomy.CapacityError);
    expect(err).toMatchObject({ scope: 'zone', code: 'ZONE_RESOURCE_POOL_EXHAUSTED' });
    expect(fakeGce().instances()).toEqual([]);
  });
});
