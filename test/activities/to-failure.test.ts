import { ApplicationFailure } from '@temporalio/common';
import { toFailure } from '../../src/activities';
import { FailureType } from '../../src/common/names';
import * as errors from '../../src/providers/errors';
import type { FailureScope, Location } from '../../src/common/offer';

const loc: Location = { provider: 'aws', region: 'us-east-1', zone: 'us-east-1a' };

type ErrorClass = new (message: string, location: Location, code?: string) => errors.ProviderError;

interface Case {
  cls: string;
  make: () => errors.ProviderError;
  type: string;
  scope: FailureScope;
  retryable: boolean;
}

/** Each class with the FailureType it carries, a code its provider might give, its scope and retryability. */
const cases: Case[] = (
  [
    [errors.CapacityError, FailureType.Capacity, 'InsufficientInstanceCapacity', 'zone', false],
    [errors.QuotaError, FailureType.Quota, 'VcpuLimitExceeded', 'region', false],
    [errors.TransientProviderError, FailureType.Transient, 'RequestLimitExceeded', 'provider', true],
    [errors.ProviderUnavailableError, FailureType.ProviderUnavailable, 'PoolDown', 'provider', false],
    [errors.InvalidRequestError, FailureType.InvalidRequest, 'InvalidParameterValue', 'provider', false],
    [errors.AuthError, FailureType.Auth, 'ExpiredToken', 'provider', false],
  ] as Array<[ErrorClass, string, string, FailureScope, boolean]>
).map(([cls, type, code, scope, retryable]) => ({
  cls: cls.name,
  make: () => new cls(`${cls.name} at ${code}`, loc, code),
  type,
  scope,
  retryable,
}));

describe('provider error classes', () => {
  test.each(cases)('$cls has name $type (a FailureType), scope $scope and retryable $retryable', (c) => {
    const err = c.make();
    expect(err).toBeInstanceOf(errors.ProviderError);
    expect(err).toBeInstanceOf(Error);
    expect(err.constructor.name).toBe(c.cls);
    expect(err.name).toBe(c.cls);
    expect(err.name).toBe(c.type);
    expect(Object.values(FailureType)).toContain(err.name);
    expect(err.scope).toBe(c.scope);
    expect(err.retryable).toBe(c.retryable);
    expect(err.location).toEqual(loc);
  });

  test('QuotaError and ProviderUnavailableError accept a narrower scope', () => {
    expect(new errors.QuotaError('m', loc, undefined, 'zone').scope).toBe('zone');
    expect(new errors.ProviderUnavailableError('m', loc, undefined, 'region').scope).toBe('region');
  });

  test('only TransientProviderError is retryable', () => {
    expect(cases.filter((c) => c.make().retryable).map((c) => c.cls)).toEqual(['TransientProviderError']);
  });
});

describe('toFailure', () => {
  test.each(cases)(
    '$cls becomes an ApplicationFailure of type $type with nonRetryable = !retryable and scope/location/code details',
    (c) => {
      const err = c.make();
      const f = toFailure(err);
      expect(f).toBeInstanceOf(ApplicationFailure);
      const af = f as ApplicationFailure;
      expect(af.type).toBe(c.type);
      expect(af.type).toBe(c.cls);
      expect(af.message).toBe(err.message);
      expect(af.nonRetryable).toBe(!c.retryable);
      expect(af.details).toHaveLength(1);
      expect(af.details?.[0]).toEqual({ scope: c.scope, location: loc, code: err.code });
      expect(err.code).toBeDefined();
    },
  );

  test('carries a narrowed scope into the details', () => {
    const af = toFailure(new errors.QuotaError('zonal quota', loc, 'Q', 'zone')) as ApplicationFailure;
    expect(af.details?.[0]).toMatchObject({ scope: 'zone' });
  });

  test('leaves code undefined in the details when the provider gave none', () => {
    const af = toFailure(
      new errors.CapacityError('full', { provider: 'local', region: 'lab-a' }),
    ) as ApplicationFailure;
    expect(af.details?.[0]).toEqual({ scope: 'zone', location: { provider: 'local', region: 'lab-a' } });
    expect(af.details?.[0]).toHaveProperty('code', undefined);
  });

  test('returns a plain Error unchanged (same object)', () => {
    const err = new Error('boom');
    expect(toFailure(err)).toBe(err);
  });

  test('returns an existing ApplicationFailure unchanged', () => {
    const af = ApplicationFailure.create({ type: 'Other', message: 'x', nonRetryable: true });
    expect(toFailure(af)).toBe(af);
  });

  test.each([['a string'], [42], [undefined], [null], [{ name: 'CapacityError', scope: 'zone' }]])(
    'returns the non-provider value %p unchanged',
    (v) => {
      expect(toFailure(v)).toBe(v);
    },
  );
});

test('for a cleanup (terminate, release), an unanswering provider is retried; an auth error is not', () => {
  const down = toFailure(new errors.ProviderUnavailableError('EC2 did not answer', loc), { cleanup: true });
  expect(down).toBeInstanceOf(ApplicationFailure);
  expect((down as ApplicationFailure).nonRetryable).toBe(false);
  expect(
    (toFailure(new errors.ProviderUnavailableError('EC2 did not answer', loc)) as ApplicationFailure)
      .nonRetryable,
  ).toBe(true);
  const auth = toFailure(new errors.AuthError('expired', loc, 'AuthFailure'), { cleanup: true });
  expect((auth as ApplicationFailure).nonRetryable).toBe(true);
});
