import { FailureType } from '../../src/common/names';
import {
  AuthError,
  CapacityError,
  InvalidRequestError,
  ProviderError,
  ProviderUnavailableError,
  QuotaError,
  TransientProviderError,
  checkOwner,
} from '../../src/providers/errors';
import type { Location } from '../../src/providers/types';

const where: Location = { provider: 'aws', region: 'us-east-1', zone: 'us-east-1a' };

describe('the provider error taxonomy', () => {
  test('each class carries its failure type as its name, which is what workflows branch on', () => {
    expect(new CapacityError('m', where).name).toBe(FailureType.Capacity);
    expect(new QuotaError('m', where).name).toBe(FailureType.Quota);
    expect(new TransientProviderError('m', where).name).toBe(FailureType.Transient);
    expect(new ProviderUnavailableError('m', where).name).toBe(FailureType.ProviderUnavailable);
    expect(new InvalidRequestError('m', where).name).toBe(FailureType.InvalidRequest);
    expect(new AuthError('m', where).name).toBe(FailureType.Auth);
  });

  test('what a failover blocks: a zone for capacity, a region for quota unless told, else the provider', () => {
    expect(new CapacityError('m', where, 'X').scope).toBe('zone');
    expect(new QuotaError('m', where).scope).toBe('region');
    expect(new QuotaError('m', where, 'X', 'provider').scope).toBe('provider');
    expect(new ProviderUnavailableError('m', where).scope).toBe('provider');
    expect(new ProviderUnavailableError('m', where, 'X', 'region').scope).toBe('region');
    expect(new AuthError('m', where).scope).toBe('provider');
  });

  test('only a transient error may be retried as it is', () => {
    expect(new TransientProviderError('m', where).retryable).toBe(true);
    for (const e of [
      new CapacityError('m', where),
      new QuotaError('m', where),
      new ProviderUnavailableError('m', where),
      new InvalidRequestError('m', where),
      new AuthError('m', where),
    ]) {
      expect(e.retryable).toBe(false);
    }
  });

  test('an error keeps its message, location and the provider code', () => {
    const e = new CapacityError('no H100 left', where, 'InsufficientInstanceCapacity');
    expect(e).toBeInstanceOf(ProviderError);
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({
      message: 'no H100 left',
      location: where,
      code: 'InsufficientInstanceCapacity',
    });
    expect(new AuthError('m', where).code).toBeUndefined();
  });
});

describe('checkOwner', () => {
  test('a provision for the configured owner passes', () => {
    expect(() => checkOwner('alice', 'alice', where)).not.toThrow();
  });

  test('a provision for another owner is refused as an invalid request naming both owners, scoped to the provider', () => {
    let err: unknown;
    try {
      checkOwner('bob', 'alice', where);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err).toMatchObject({
      message: 'provision for owner "bob" on a provider configured for "alice"',
      code: 'OwnerMismatch',
      location: where,
      scope: 'provider',
      retryable: false,
    });
  });
});
