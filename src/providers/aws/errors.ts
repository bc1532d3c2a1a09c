/**
 * EC2's error codes mapped onto the provider error taxonomy (../errors.ts). The mapping decides
 * what a failover blocks: a zone for capacity, a region for quota, the whole provider for
 * credentials or a malformed request.
 */
import {
  AuthError,
  CapacityError,
  InvalidRequestError,
  ProviderError,
  ProviderUnavailableError,
  QuotaError,
  TransientProviderError,
} from '../errors';
import { NETWORK_CODES } from '../calls';
import type { Location } from '../types';

/** No capacity for this shape in this zone: try another zone. */
const CAPACITY = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientCapacityOnHost',
  'InsufficientHostCapacity',
  'InsufficientReservedInstanceCapacity',
  'InsufficientAddressCapacity',
  'InsufficientFreeAddressesInSubnet',
  // "Your requested instance type is not supported in your requested Availability Zone."
  'Unsupported',
  // The spot price in this zone is above what we offered: no spot capacity for us there now.
  'SpotMaxPriceTooLow',
  // The instance an earlier try launched under this ClientToken is already terminated (a spot
  // reclaimed at once, a launch the zone could not finish). Retrying the token repeats this answer
  // forever and a new token belongs to a new attempt: treat it as the zone failing this attempt.
  'IdempotentInstanceTerminated',
]);

/** An account limit in this region: other regions may have room. */
const QUOTA = new Set([
  'InstanceLimitExceeded',
  'VcpuLimitExceeded',
  'MaxSpotInstanceCountExceeded',
  'VolumeLimitExceeded',
  'AddressLimitExceeded',
  'ResourceLimitExceeded',
]);

/** Throttling and server-side trouble: the same call may work if repeated. */
const TRANSIENT = new Set([
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
  // Clock skew; the SDK corrects its offset from the server's Date header on the next call.
  'RequestExpired',
]);

/** Credentials missing, invalid, expired or without a permission. */
const AUTH = new Set([
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
  // Thrown by the SDK's credential chain before any request is sent.
  'CredentialsProviderError',
  'TokenProviderError',
]);

/** The region is closed to this account (not opted in): the provider is unavailable there. */
const REGION_UNAVAILABLE = new Set(['OptInRequired', 'PendingVerification']);

/** The request is wrong in a way that repeating it anywhere will not fix. */
const INVALID = new Set([
  'InvalidParameterValue',
  'InvalidParameter',
  'InvalidParameterCombination',
  'MissingParameter',
  'UnknownParameter',
  'InvalidBlockDeviceMapping',
  'InvalidInstanceType',
  'InvalidUserData.Malformed',
  'ValidationError',
  // The same ClientToken with different parameters: the idempotency key misses something that
  // makes requests differ. A bug to surface, never to retry.
  'IdempotentParameterMismatch',
  'InvalidAvailabilityZone',
]);

/** Prefixes of EC2's "this thing you named does not exist or is malformed" families. */
const INVALID_PREFIXES = [
  'InvalidAMIID.',
  'InvalidSubnetID.',
  'InvalidGroup.',
  'InvalidGroupId.',
  'InvalidKeyPair.',
  'InvalidInstanceID.',
  'InvalidVpcID.',
  'InvalidNetworkInterfaceID.',
];

export { UNANSWERED_CODES } from '../calls';

interface AwsErrorShape {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; requestId?: string };
  cause?: unknown;
}

/** EC2's error code of an SDK error: its `Code` (the XML `<Code>`), else its name. */
export function awsErrorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as AwsErrorShape;
  return e.Code ?? e.name;
}

function networkCode(err: unknown, depth = 0): string | undefined {
  if (typeof err !== 'object' || err === null || depth > 3) return undefined;
  const e = err as AwsErrorShape;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e.code;
  if (e.name === 'TimeoutError') return 'ETIMEDOUT';
  // The SDK's retry layer wraps what it does not take for an Error (a socket error from another
  // realm, as under Jest) into "AWS SDK error wrapper for Error: connect ECONNREFUSED ...".
  if (typeof e.message === 'string' && e.message.startsWith('AWS SDK error wrapper')) {
    const m = /\b(E[A-Z_]+)\b/.exec(e.message);
    if (m && NETWORK_CODES.has(m[1]!)) return m[1];
  }
  return networkCode(e.cause, depth + 1);
}

/**
 * Classifies an error from the EC2 SDK (or from the network under it) at `location`. A
 * ProviderError is returned as it is. Unknown 4xx codes are invalid requests (the request was
 * refused and nothing says repeating it helps); unknown failures without a status are transient.
 */
export function classifyAwsError(err: unknown, location: Location): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as AwsErrorShape;
  const code = awsErrorCode(err);
  const status = e.$metadata?.httpStatusCode;
  const detail = (e.message ?? String(err)).trim();
  const where = [location.region, location.zone].filter(Boolean).join('/') || 'aws';
  const msg = (what: string) => `${what} in ${where}: ${code ? `${code}: ` : ''}${detail}`;

  const net = networkCode(err);
  if (net) return new TransientProviderError(msg('EC2 endpoint did not answer'), location, 'NetworkError');
  if (code === undefined) return new TransientProviderError(msg('EC2 call failed'), location, 'Unknown');
  const authError = () =>
    new AuthError(
      msg('AWS credentials were refused') +
        ' (check the credentials the SDK finds: AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws, instance role)',
      location,
      code,
    );
  // Known codes first: EC2 sends OptInRequired with 401 and capacity errors with 500.
  if (CAPACITY.has(code)) return new CapacityError(msg('no capacity'), location, code);
  if (QUOTA.has(code)) return new QuotaError(msg('account limit reached'), location, code, 'region');
  if (REGION_UNAVAILABLE.has(code)) {
    return new ProviderUnavailableError(
      msg('region not available to this account'),
      location,
      code,
      'region',
    );
  }
  if (AUTH.has(code)) return authError();
  if (TRANSIENT.has(code)) return new TransientProviderError(msg('EC2 is struggling'), location, code);
  if (INVALID.has(code) || INVALID_PREFIXES.some((p) => code.startsWith(p))) {
    return new InvalidRequestError(msg('EC2 refused the request'), location, code);
  }
  if (status === 401 || status === 403) return authError();
  if ((status !== undefined && status >= 500) || e.$fault === 'server') {
    return new TransientProviderError(msg('EC2 is struggling'), location, code);
  }
  if (status !== undefined && status >= 400) {
    return new InvalidRequestError(msg('EC2 refused the request'), location, code);
  }
  return new TransientProviderError(msg('EC2 call failed'), location, code);
}
