/**
 * The EC2 error mapping, from the shapes the SDK produces (EC2ServiceException with the XML
 * `<Code>` as its name, status in $metadata) and the network errors under it.
 */
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { classifyAwsError } from '../../../src/providers/aws/errors';
import { AuthError, ProviderError, QuotaError, TransientProviderError } from '../../../src/providers/errors';

const where = { provider: 'aws', region: 'us-east-1', zone: 'use1-az1' };

function ec2Error(code: string, status: number, message = `recorded ${code}`): EC2ServiceException {
  return new EC2ServiceException({
    name: code,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status, requestId: 'req-1', attempts: 1, totalRetryDelay: 0 },
    message,
  });
}

/** EC2 code, HTTP status, the taxonomy class, its scope and whether it is retryable. */
const CASES: Array<[string, number, string, string, boolean]> = [
  ['InsufficientInstanceCapacity', 500, 'CapacityError', 'zone', false],
  ['InsufficientCapacityOnHost', 500, 'CapacityError', 'zone', false],
  ['Unsupported', 400, 'CapacityError', 'zone', false],
  ['SpotMaxPriceTooLow', 400, 'CapacityError', 'zone', false],
  ['IdempotentInstanceTerminated', 400, 'CapacityError', 'zone', false],
  ['InstanceLimitExceeded', 400, 'QuotaError', 'region', false],
  ['VcpuLimitExceeded', 400, 'QuotaError', 'region', false],
  ['MaxSpotInstanceCountExceeded', 400, 'QuotaError', 'region', false],
  ['RequestLimitExceeded', 503, 'TransientProviderError', 'provider', true],
  ['InternalError', 500, 'TransientProviderError', 'provider', true],
  ['Unavailable', 503, 'TransientProviderError', 'provider', true],
  ['SomethingNew', 502, 'TransientProviderError', 'provider', true],
  ['AuthFailure', 401, 'AuthError', 'provider', false],
  ['UnauthorizedOperation', 403, 'AuthError', 'provider', false],
  ['SignatureDoesNotMatch', 403, 'AuthError', 'provider', false],
  ['ExpiredToken', 400, 'AuthError', 'provider', false],
  ['SomeUnknownDenial', 403, 'AuthError', 'provider', false],
  ['InvalidParameterValue', 400, 'InvalidRequestError', 'provider', false],
  ['InvalidParameterCombination', 400, 'InvalidRequestError', 'provider', false],
  ['InvalidAMIID.NotFound', 400, 'InvalidRequestError', 'provider', false],
  ['InvalidAMIID.Malformed', 400, 'InvalidRequestError', 'provider', false],
  ['InvalidSubnetID.NotFound', 400, 'InvalidRequestError', 'provider', false],
  ['IdempotentParameterMismatch', 400, 'InvalidRequestError', 'provider', false],
  ['NeverHeardOfIt', 400, 'InvalidRequestError', 'provider', false],
  ['OptInRequired', 401, 'ProviderUnavailableError', 'region', false],
];

describe('classifyAwsError', () => {
  test.each(CASES)(
    '%s (HTTP %i) is a %s of scope %s (retryable: %s)',
    (code, status, cls, scope, retryable) => {
      const err = classifyAwsError(ec2Error(code, status), where);
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ name: cls, scope, retryable, code, location: where });
    },
  );

  test.each(CASES.filter((c) => c[2] === 'AuthError'))(
    'an auth error (%s, HTTP %i) names where the SDK finds credentials: the next step',
    (code, status) => {
      expect(classifyAwsError(ec2Error(code, status), where).message).toContain('AWS_PROFILE');
    },
  );

  test('a credential chain that found nothing is an auth error', () => {
    const err = new Error('Could not load credentials from any providers');
    err.name = 'CredentialsProviderError';
    expect(classifyAwsError(err, where)).toBeInstanceOf(AuthError);
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
