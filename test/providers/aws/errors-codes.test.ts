/**
 * Every EC2 code the classifier knows, each with an HTTP status that would classify it
 * otherwise if the code were not known (so each entry is what decides), and the fallbacks by
 * status, fault and network error. Shapes as errors.test.ts builds them from the SDK.
 */
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { awsErrorCode, classifyAwsError } from '../../../src/providers/aws/errors';

const where = { provider: 'aws', region: 'us-east-1', zone: 'use1-az1' };

function ec2Error(
  code: string,
  status: number | undefined,
  fault?: 'client' | 'server',
): EC2ServiceException {
  return new EC2ServiceException({
    name: code,
    $fault: fault ?? (status !== undefined && status >= 500 ? 'server' : 'client'),
    $metadata: { httpStatusCode: status, requestId: 'req-1', attempts: 1, totalRetryDelay: 0 },
    message: `recorded ${code}`,
  });
}

const classOf = (code: string, status: number | undefined, fault?: 'client' | 'server') => {
  const e = classifyAwsError(ec2Error(code, status, fault), where);
  return [e.name, e.scope, e.code];
};

// A 4xx would make an unknown code an invalid request: these codes are known to be otherwise.
test.each([
  'InsufficientInstanceCapacity',
  'InsufficientCapacityOnHost',
  'InsufficientHostCapacity',
  'InsufficientReservedInstanceCapacity',
  'InsufficientAddressCapacity',
  'InsufficientFreeAddressesInSubnet',
  'Unsupported',
  'SpotMaxPriceTooLow',
  'IdempotentInstanceTerminated',
])('%s is no capacity in the zone', (code) => {
  expect(classOf(code, 400)).toEqual(['CapacityError', 'zone', code]);
});

test.each([
  'InstanceLimitExceeded',
  'VcpuLimitExceeded',
  'MaxSpotInstanceCountExceeded',
  'VolumeLimitExceeded',
  'AddressLimitExceeded',
  'ResourceLimitExceeded',
])('%s is an account limit of the region', (code) => {
  expect(classOf(code, 400)).toEqual(['QuotaError', 'region', code]);
});

test.each([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'Unavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'RequestExpired',
])('%s is transient even with a 4xx', (code) => {
  expect(classOf(code, 400)).toEqual(['TransientProviderError', 'provider', code]);
});

test.each([
  'AuthFailure',
  'UnauthorizedOperation',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'MissingAuthenticationToken',
  'AccessDenied',
  'AccessDeniedException',
  'Blocked',
  'CredentialsProviderError',
  'TokenProviderError',
])('%s is a credentials problem even with a 400', (code) => {
  expect(classOf(code, 400)).toEqual(['AuthError', 'provider', code]);
});

test.each(['OptInRequired', 'PendingVerification'])('%s closes the region, not the provider', (code) => {
  expect(classOf(code, 400)).toEqual(['ProviderUnavailableError', 'region', code]);
});

// A 5xx would make an unknown code transient: these are invalid requests whatever the status.
test.each([
  'InvalidParameterValue',
  'InvalidParameter',
  'InvalidParameterCombination',
  'MissingParameter',
  'UnknownParameter',
  'InvalidBlockDeviceMapping',
  'InvalidInstanceType',
  'InvalidUserData.Malformed',
  'ValidationError',
  'IdempotentParameterMismatch',
  'InvalidAvailabilityZone',
  'InvalidAMIID.NotFound',
  'InvalidSubnetID.NotFound',
  'InvalidGroup.NotFound',
  'InvalidGroupId.Malformed',
  'InvalidKeyPair.NotFound',
  'InvalidInstanceID.NotFound',
  'InvalidVpcID.NotFound',
  'InvalidNetworkInterfaceID.NotFound',
])('%s is an invalid request even with a 500', (code) => {
  expect(classOf(code, 500)).toEqual(['InvalidRequestError', 'provider', code]);
});

test('a family prefix must match from the start of the code', () => {
  expect(classOf('XInvalidAMIID.NotFound', 500)).toEqual([
    'TransientProviderError',
    'provider',
    'XInvalidAMIID.NotFound',
  ]);
});

describe('unknown codes fall back on the status', () => {
  test('401 and 403 are credentials problems', () => {
    expect(classOf('New', 401)[0]).toBe('AuthError');
    expect(classOf('New', 403)[0]).toBe('AuthError');
  });

  test('500 and above, or a server fault without a status, are transient', () => {
    expect(classOf('New', 500)[0]).toBe('TransientProviderError');
    expect(classOf('New', undefined, 'server')[0]).toBe('TransientProviderError');
  });

  test('400 to 499 are invalid requests; below 400 (or no status, a client fault) a call that failed, transient', () => {
    expect(classOf('New', 400)[0]).toBe('InvalidRequestError');
    expect(classOf('New', 499, 'client')[0]).toBe('InvalidRequestError');
    expect(classOf('New', 399, 'client')[0]).toBe('TransientProviderError');
    const e = classifyAwsError(ec2Error('New', undefined, 'client'), where);
    expect(e.message).toBe('EC2 call failed in us-east-1/use1-az1: New: recorded New');
  });

  test('the messages say what happened', () => {
    expect(classifyAwsError(ec2Error('New', 503), where).message).toBe(
      'EC2 is struggling in us-east-1/use1-az1: New: recorded New',
    );
    expect(classifyAwsError(ec2Error('New', 400), where).message).toBe(
      'EC2 refused the request in us-east-1/use1-az1: New: recorded New',
    );
    expect(classifyAwsError(ec2Error('VcpuLimitExceeded', 400), where).message).toMatch(
      /^account limit reached in /,
    );
    expect(classifyAwsError(ec2Error('OptInRequired', 401), where).message).toMatch(
      /^region not available to this account in /,
    );
    expect(classifyAwsError(ec2Error('Throttling', 400), where).message).toMatch(/^EC2 is struggling in /);
    expect(classifyAwsError(ec2Error('MissingParameter', 400), where).message).toMatch(
      /^EC2 refused the request in /,
    );
    expect(classifyAwsError(ec2Error('AuthFailure', 401), where).message).toBe(
      'AWS credentials were refused in us-east-1/use1-az1: AuthFailure: recorded AuthFailure' +
        ' (check the credentials the SDK finds: AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws, instance role)',
    );
  });
});

describe('errors without a code', () => {
  test('something that is not an error object is a failed call, transient, with its text', () => {
    const e = classifyAwsError('  boom  ', { provider: 'aws', region: 'eu-west-1' });
    expect(e).toMatchObject({ name: 'TransientProviderError', code: 'Unknown' });
    expect(e.message).toBe('EC2 call failed in eu-west-1: boom');
    expect(classifyAwsError(null, { provider: 'aws' }).message).toBe('EC2 call failed in aws: null');
  });

  test('awsErrorCode reads Code before name, and nothing from what is not an object', () => {
    expect(awsErrorCode({ Code: 'A', name: 'B' })).toBe('A');
    expect(awsErrorCode({ name: 'B' })).toBe('B');
    expect(awsErrorCode('A')).toBeUndefined();
    expect(awsErrorCode(null)).toBeUndefined();
  });
});

describe('network errors under the SDK', () => {
  test.each(['ECONNABORTED', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_SOCKET'])(
    'a socket error %s, even as the cause of the SDK error, is transient NetworkError',
    (code) => {
      const err = Object.assign(new Error('fetch failed'), {
        cause: Object.assign(new Error('x'), { code }),
      });
      const e = classifyAwsError(err, where);
      expect(e).toMatchObject({ name: 'TransientProviderError', code: 'NetworkError' });
      expect(e.message).toMatch(/^EC2 endpoint did not answer in us-east-1\/use1-az1: Error: fetch failed$/);
    },
  );

  test('a cause nested deeper than three levels is not looked at', () => {
    const socket = { code: 'ECONNRESET' };
    const wrap = (cause: unknown) => ({ name: 'Wrapped', message: 'w', cause });
    expect(classifyAwsError(wrap(wrap(wrap(socket))), where).code).toBe('NetworkError');
    expect(classifyAwsError(wrap(wrap(wrap(wrap(socket)))), where).code).toBe('Wrapped');
  });

  test('a code that is not a socket failure is not a network error', () => {
    expect(classifyAwsError({ name: 'X', code: 'ENOENT', message: 'm' }, where).code).toBe('X');
    const wrapped = new Error('AWS SDK error wrapper for Error: EACCES denied');
    expect(classifyAwsError(wrapped, where).code).toBe('Error');
    const notWrapper = new Error('connect ECONNREFUSED 127.0.0.1:1');
    expect(classifyAwsError(notWrapper, where).code).toBe('Error');
  });
});
