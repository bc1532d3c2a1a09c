/**
 * The EC2 error mapping, from the shapes the SDK produces (EC2ServiceException with the XML
 * `<Code>` as its name, status in $metadata) and the network errors under it.
 */
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { classifyAwsError } from '../../../src/providers/aws/errors';
import {
  AuthError,
  CapacityError,
  InvalidRequestError,
  ProviderUnavailableError,
  QuotaError,
  TransientProviderError,
} from '../../../src/providers/errors';

const where = { provider: 'aws', region: 'us-east-1', zone: 'use1-az1' };

function ec2Error(code: string, status: number, message = `recorded ${code}`): EC2ServiceException {
  return new EC2ServiceException({
    name: code,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status, requestId: 'req-1', attempts: 1, totalRetryDelay: 0 },
    message,
  });
}

describe('classifyAwsError', () => {
  test.each([
    ['InsufficientInstanceCapacity', 500],
    ['InsufficientCapacityOnHost', 500],
    ['Unsupported', 400],
    ['SpotMaxPriceTooLow', 400],
    ['IdempotentInstanceTerminated', 400],
  ])('%s (HTTP %i) is a capacity error of the zone', (code, status) => {
    const err = classifyAwsError(ec2Error(code, status), where);
    expect(err).toBeInstanceOf(CapacityError);
    expect(err).toMatchObject({ scope: 'zone', retryable: false, code, location: where });
  });

  test.each([['InstanceLimitExceeded'], ['VcpuLimitExceeded'], ['MaxSpotInstanceCountExceeded']])(
    '%s is a quota error of the region',
    (code) => {
      const err = classifyAwsError(ec2Error(code, 400), where);
      expect(err).toBeInstanceOf(QuotaError);
      expect(err).toMatchObject({ scope: 'region', retryable: false, code });
    },
  );

  test.each([
    ['RequestLimitExceeded', 503],
    ['InternalError', 500],
    ['Unavailable', 503],
    ['SomethingNew', 502],
  ])('%s (HTTP %i) is transient and retryable', (code, status) => {
    const err = classifyAwsError(ec2Error(code, status), where);
    expect(err).toBeInstanceOf(TransientProviderError);
    expect(err.retryable).toBe(true);
    expect(err.code).toBe(code);
  });

  test.each([
    ['AuthFailure', 401],
    ['UnauthorizedOperation', 403],
    ['SignatureDoesNotMatch', 403],
    ['ExpiredToken', 400],
    ['SomeUnknownDenial', 403],
  ])('%s (HTTP %i) is an auth error of the provider with a next step', (code, status) => {
    const err = classifyAwsError(ec2Error(code, status), where);
    expect(err).toBeInstanceOf(AuthError);
    expect(err.scope).toBe('provider');
    expect(err.message).toContain('AWS_PROFILE');
  });

  test('a credential chain that found nothing is an auth error', () => {
    const err = new Error('Could not load credentials from any providers');
    err.name = 'CredentialsProviderError';
    expect(classifyAwsError(err, where)).toBeInstanceOf(AuthError);
  });

  test.each([
    ['InvalidParameterValue'],
    ['InvalidParameterCombination'],
    ['InvalidAMIID.NotFound'],
    ['InvalidAMIID.Malformed'],
    ['InvalidSubnetID.NotFound'],
    ['IdempotentParameterMismatch'],
    ['NeverHeardOfIt'],
  ])('%s (HTTP 400) is an invalid request', (code) => {
    const err = classifyAwsError(ec2Error(code, 400), where);
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err).toMatchObject({ retryable: false, code });
  });

  test('OptInRequired makes the region unavailable, not the provider', () => {
    const err = classifyAwsError(ec2Error('OptInRequired', 401), where);
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    expect(err.scope).toBe('region');
  });

  test.each([['ECONNREFUSED'], ['ECONNRESET'], ['ETIMEDOUT'], ['ENOTFOUND']])(
    'a socket error %s is transient with code NetworkError',
    (code) => {
      const err = Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code });
      const out = classifyAwsError(err, where);
      expect(out).toBeInstanceOf(TransientProviderError);
      expect(out.code).toBe('NetworkError');
    },
  );

  test('a socket error the SDK wrapped ("AWS SDK error wrapper for ...") is still a network error', () => {
    const err = new Error('AWS SDK error wrapper for Error: connect ECONNREFUSED 127.0.0.1:45353');
    expect(classifyAwsError(err, where)).toMatchObject({
      name: 'TransientProviderError',
      code: 'NetworkError',
    });
  });

  test("the SDK's TimeoutError is transient", () => {
    const err = Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
    expect(classifyAwsError(err, where)).toBeInstanceOf(TransientProviderError);
  });

  test('a provider error passes through unchanged', () => {
    const original = new QuotaError('x', where, 'VcpuLimitExceeded');
    expect(classifyAwsError(original, where)).toBe(original);
  });

  test('the message names the location and the code', () => {
    const err = classifyAwsError(ec2Error('InsufficientInstanceCapacity', 500, 'no g5 left'), where);
    expect(err.message).toBe('no capacity in us-east-1/use1-az1: InsufficientInstanceCapacity: no g5 left');
  });
});
