/**
 * Failures through real HTTP: the fake Compute Engine answers chosen calls with Google's error
 * JSON, finishes operations with errors, withholds answers, or goes down. The provider must land
 * each in the right taxonomy class and scope, retry only what is transient, and give up within its
 * bounds.
 */
import * as taxonomy from '../../../src/providers/errors';
import { ProviderError } from '../../../src/providers/errors';
import type { FailureScope } from '../../../src/providers/types';
import { GCE_HTTP_ERRORS, startFakeGce, type HttpFault, type OperationFault } from '../../support/gcp-server';
import { expectCancelledPromptly } from '../cloud-settings';
import { OWNER, ZONE, makeProvider, offer, request, until, useFakeGce } from './helpers';
import { provisionError as failedProvision } from '../../support/provision-request';

const fakeGce = useFakeGce();

/** Three tries per call, fast backoff. */
const provider = (over = {}) => makeProvider(fakeGce(), { maxAttempts: 3, ...over });

const provisionError = (p = provider(), o = offer()) => failedProvision(p, request(o));

/** What `call` fails with while Compute Engine is out (`mode`); the outage ends before this returns. */
async function errorDuringOutage(
  mode: 'unavailable' | 'refused',
  call: () => Promise<unknown>,
): Promise<unknown> {
  await fakeGce().outage(mode);
  try {
    return await call().then(
      () => undefined,
      (e: unknown) => e,
    );
  } finally {
    await fakeGce().outage(false);
  }
}

/** A taxonomy class by its name. */
const cls = (name: string) =>
  (taxonomy as unknown as Record<string, new (...a: never[]) => ProviderError>)[name]!;

describe('errors answered to the insert call land in the taxonomy', () => {
  type Case = [keyof typeof GCE_HTTP_ERRORS, string, FailureScope, string];
  test.each<Case>([
    ['zoneResourcePoolExhausted', 'CapacityError', 'zone', 'ZONE_RESOURCE_POOL_EXHAUSTED'],
    ['quotaExceeded', 'QuotaError', 'region', 'quotaExceeded'],
    ['gpusAllRegions', 'QuotaError', 'provider', 'quotaExceeded'],
    ['forbidden', 'AuthError', 'provider', 'forbidden'],
    ['insufficientPermissions', 'AuthError', 'provider', 'forbidden'],
    ['unauthorized', 'AuthError', 'provider', 'required'],
    ['invalid', 'InvalidRequestError', 'provider', 'invalid'],
    ['badRequest', 'InvalidRequestError', 'provider', 'invalid'],
  ])('%s is a %s of scope %s (code %s), sent once and not retried', async (fault, className, scope, code) => {
    fakeGce().failHttp('instances.insert', GCE_HTTP_ERRORS[fault]);
    const err = await provisionError();
    expect(err).toBeInstanceOf(cls(className));
    expect(err).toMatchObject({ scope, code, retryable: false });
    expect(err.location).toEqual({ provider: 'gcp', region: 'us-central1', zone: ZONE });
    // Refused before it took effect, so only the number of tries says anything here.
    expect(fakeGce().calls('instances.insert')).toHaveLength(1);
  });

  test('a capacity error in an ErrorInfo of any status is still a capacity error', async () => {
    fakeGce().failHttp('instances.insert', {
      status: 400,
      reason: 'UNSUPPORTED_OPERATION',
      errorInfo: true,
      message: "The resource 'nvidia-tesla-t4' is not available in this zone",
    });
    const err = await provisionError();
    expect(err).toBeInstanceOf(taxonomy.CapacityError);
    expect(err.code).toBe('UNSUPPORTED_OPERATION');
  });
});

describe('errors inside a finished operation land in the taxonomy', () => {
  type Case = [OperationFault, string, FailureScope];
  test.each<Case>([
    [{ code: 'ZONE_RESOURCE_POOL_EXHAUSTED' }, 'CapacityError', 'zone'],
    [{ code: 'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS' }, 'CapacityError', 'zone'],
    [{ code: 'UNSUPPORTED_OPERATION' }, 'CapacityError', 'zone'],
    [{ code: 'RESOURCE_NOT_READY' }, 'CapacityError', 'zone'],
    [
      {
        code: 'QUOTA_EXCEEDED',
        message: "Quota 'NVIDIA_T4_GPUS' exceeded.  Limit: 0.0 in region us-central1.",
        quotaInfo: {
          metricName: 'compute.googleapis.com/nvidia_t4_gpus',
          limitName: 'NVIDIA-T4-GPUS-per-project-region',
          dimensions: { region: 'us-central1' },
        },
      },
      'QuotaError',
      'region',
    ],
    [
      {
        code: 'QUOTA_EXCEEDED',
        message: "Quota 'GPUS_ALL_REGIONS' exceeded.  Limit: 0.0 globally.",
        quotaInfo: {
          metricName: 'compute.googleapis.com/gpus_all_regions',
          limitName: 'GPUS-ALL-REGIONS-per-project',
        },
      },
      'QuotaError',
      'provider',
    ],
    [{ code: 'INVALID_FIELD_VALUE', httpStatus: 400 }, 'InvalidRequestError', 'provider'],
    [{ code: 'PERMISSIONS_ERROR', httpStatus: 403 }, 'AuthError', 'provider'],
  ])('%j is a %s of scope %s, with one insert', async (fault, className, scope) => {
    fakeGce().failOperation('instances.insert', fault);
    const err = await provisionError();
    expect(err).toBeInstanceOf(cls(className));
    expect(err).toMatchObject({ scope, code: fault.code, retryable: false });
    expect(fakeGce().calls('instances.insert')).toHaveLength(1);
    expect(fakeGce().instances()).toHaveLength(0);
  });

  test('a rate-limited operation is created again under a fresh requestId, and one instance results', async () => {
    fakeGce().failOperation('instances.insert', {
      code: 'RESOURCE_OPERATION_RATE_EXCEEDED',
      httpStatus: 403,
    });
    const inst = await provider().provision(request(offer()));
    const inserts = fakeGce().calls('instances.insert');
    expect(inserts).toHaveLength(2);
    expect(inserts[1]!.requestId).not.toBe(inserts[0]!.requestId);
    expect(
      fakeGce()
        .instances()
        .map((i) => i.name),
    ).toEqual([inst.id]);
  });
});

describe('transient failures are retried inside the adapter', () => {
  test('backendError twice (the first after the insert took effect), then success: one instance after three inserts with the same requestId', async () => {
    // The first 503 comes after the create happened, so a resend that made a second VM would show.
    fakeGce().failHttp('instances.insert', { ...GCE_HTTP_ERRORS.backendError, afterDoing: true });
    fakeGce().failHttp('instances.insert', { ...GCE_HTTP_ERRORS.backendError });
    const inst = await provider().provision(request(offer()));
    const inserts = fakeGce().calls('instances.insert');
    expect(inserts).toHaveLength(3);
    expect(new Set(inserts.map((c) => c.requestId)).size).toBe(1);
    expect(
      fakeGce()
        .instances()
        .map((i) => i.name),
    ).toEqual([inst.id]);
  });

  test.each<[string, HttpFault]>([
    ['a 403 rateLimitExceeded', GCE_HTTP_ERRORS.rateLimitExceeded],
    ['a 429', GCE_HTTP_ERRORS.tooManyRequests],
  ])('%s on every try gives up after maxAttempts as a retryable transient error', async (_label, fault) => {
    fakeGce().failHttp('instances.insert', { ...fault, times: 10 });
    const err = await provisionError();
    expect(err).toBeInstanceOf(taxonomy.TransientProviderError);
    expect(err).toMatchObject({ retryable: true, code: 'rateLimitExceeded' });
    expect(fakeGce().calls('instances.insert')).toHaveLength(3);
  });

  test('5xx on every try makes the region unavailable; the library retried nothing itself', async () => {
    fakeGce().failHttp('instances.get', { ...GCE_HTTP_ERRORS.internalError, times: 10 });
    const ref = { provider: 'gcp', id: 'driftless-x', region: 'us-central1', zone: ZONE };
    const err = await provider()
      .describe(ref)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(taxonomy.ProviderUnavailableError);
    expect(err).toMatchObject({ scope: 'region', code: 'backendError' });
    expect(fakeGce().calls('instances.get')).toHaveLength(3);
  });

  test('an answer that is not JSON (a proxy page) is retried, then the call succeeds', async () => {
    const p = provider();
    const inst = await p.provision(request(offer()));
    fakeGce().failHttp('instances.get', { status: 502, reason: 'badGateway', rawBody: '<html>502</html>' });
    expect(['pending', 'running']).toContain(await p.describe(inst));
    expect(fakeGce().calls('instances.get').length).toBeGreaterThanOrEqual(2);
  });

  test('a 503 while polling the operation is not a failure: the provision succeeds with one insert', async () => {
    const slow = await startFakeGce({ operationMs: 400, waitMaxMs: 100 });
    try {
      slow.failHttp('zoneOperations.wait', { ...GCE_HTTP_ERRORS.backendError, times: 2 });
      const inst = await makeProvider(slow, { maxAttempts: 3 }).provision(request(offer()));
      expect(inst.id).toMatch(/^driftless-/);
      expect(slow.calls('instances.insert')).toHaveLength(1);
      expect(slow.calls('zoneOperations.wait').length).toBeGreaterThanOrEqual(3);
    } finally {
      await slow.close();
    }
  });

  test('a call past its deadline is retried; a zone that never answers makes its region unavailable', async () => {
    fakeGce().hang('instances.get');
    const ref = { provider: 'gcp', id: 'driftless-x', region: 'us-central1', zone: ZONE };
    const started = Date.now();
    const err = await provider({ callTimeout: '300ms' })
      .describe(ref)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(taxonomy.ProviderUnavailableError);
    expect(err).toMatchObject({ scope: 'region', code: 'DeadlineExceeded' });
    expect(fakeGce().calls('instances.get')).toHaveLength(3);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('outages', () => {
  test('every call answering 503: provision fails with the region unavailable, and works again after', async () => {
    await fakeGce().outage('unavailable');
    const err = await provisionError();
    expect(err).toBeInstanceOf(taxonomy.ProviderUnavailableError);
    expect(err).toMatchObject({ scope: 'region', code: 'backendError' });
    expect(fakeGce().calls('instances.insert')).toHaveLength(3);
    await fakeGce().outage(false);
    await expect(provider().provision(request(offer()))).resolves.toMatchObject({ provider: 'gcp' });
  });

  test('refused connections: the region is unavailable (NetworkError), and calls work again after', async () => {
    const p = provider();
    const inst = await p.provision(request(offer()));
    const err = await errorDuringOutage('refused', () => p.describe(inst));
    expect(err).toBeInstanceOf(taxonomy.ProviderUnavailableError);
    expect(err).toMatchObject({ scope: 'region', code: 'NetworkError' });
    expect(['pending', 'running']).toContain(await p.describe(inst));
  });
});

describe('cancellation', () => {
  test("the caller's signal ends a hanging insert at once, without waiting for the deadline", async () => {
    fakeGce().hang('instances.insert');
    await expectCancelledPromptly((signal) =>
      provider({ callTimeout: '20s' }).provision({ ...request(offer()), signal }),
    );
    expect(fakeGce().calls('instances.insert')).toHaveLength(1);
  });

  test('an already aborted signal sends nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(provider().provision({ ...request(offer()), signal: ac.signal })).rejects.toMatchObject({
      code: 'Cancelled',
    });
    expect(fakeGce().requests).toHaveLength(0);
  });
});

describe('terminate under failures', () => {
  test('a delete answered 503 once (after it took effect) is retried with the same requestId and the instance ends deleted', async () => {
    const p = provider();
    const inst = await p.provision(request(offer()));
    await until(() => fakeGce().instance(ZONE, inst.id)?.status === 'RUNNING');
    fakeGce().failHttp('instances.delete', { ...GCE_HTTP_ERRORS.backendError, afterDoing: true });
    await p.terminate(inst);
    const deletes = fakeGce().calls('instances.delete');
    expect(deletes).toHaveLength(2);
    expect(deletes[1]!.requestId).toBe(deletes[0]!.requestId);
    expect(fakeGce().instance(ZONE, inst.id)).toBeUndefined();
  });

  test.each(['unavailable', 'refused'] as const)(
    'a delete during an outage (%s) fails as transient, so that it is tried again, and works after',
    async (mode) => {
      const p = provider();
      const inst = await p.provision(request(offer()));
      const err = await errorDuringOutage(mode, () => p.terminate(inst));
      // Not "unavailable": that would make the terminate activity give up on a billed machine.
      expect(err).toBeInstanceOf(taxonomy.TransientProviderError);
      expect(err).toMatchObject({
        retryable: true,
        code: mode === 'unavailable' ? 'backendError' : 'NetworkError',
        message: expect.stringContaining(`instance ${inst.id} is not deleted yet`),
      });
      expect(fakeGce().instance(ZONE, inst.id)).toBeDefined();
      await p.terminate(inst);
      expect(fakeGce().instance(ZONE, inst.id)).toBeUndefined();
    },
  );

  test('listing owned instances during an outage fails as transient, so that a compensation lists again', async () => {
    const p = provider();
    const inst = await p.provision(request(offer()));
    const err = await errorDuringOutage('unavailable', () => p.listOwned(OWNER));
    expect(err).toBeInstanceOf(taxonomy.TransientProviderError);
    expect(err).toMatchObject({ retryable: true, code: 'backendError' });
    expect((await p.listOwned(OWNER)).map((r) => r.id)).toEqual([inst.id]);
  });

  test('a delete refused for permissions is an auth error, and the instance stays', async () => {
    const p = provider();
    const inst = await p.provision(request(offer()));
    fakeGce().failHttp('instances.delete', GCE_HTTP_ERRORS.forbidden);
    await expect(p.terminate(inst)).rejects.toBeInstanceOf(taxonomy.AuthError);
    expect(fakeGce().instance(ZONE, inst.id)).toBeDefined();
  });
});
