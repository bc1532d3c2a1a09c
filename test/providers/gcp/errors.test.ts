/**
 * The classifier from recorded shapes: errors as google-gax's REST transport throws them (a
 * GoogleError: gRPC `code`, Google's `message`, `reason` only from an ErrorInfo detail), and
 * finished operations as ZoneOperations.wait returns them.
 */
import {
  classifyGcpError,
  classifyOperationError,
  gceErrorFacts,
  quotaScope,
} from '../../../src/providers/gcp/errors';
import type { Location } from '../../../src/providers/types';

const here: Location = { provider: 'gcp', region: 'us-central1', zone: 'us-central1-a' };

/** A GoogleError as gax builds it from `{error: {code, message, errors, details?}}`. */
function googleError(code: number, message: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { name: 'Error', code, details: [], note: undefined, ...extra });
}

describe('classifyGcpError: HTTP answers', () => {
  test.each<[string, Error, string, string, string]>([
    [
      '409 already exists (gax: ABORTED)',
      googleError(10, "The resource 'projects/p/zones/z/instances/n' already exists"),
      'InvalidRequestError',
      'alreadyExists',
      'provider',
    ],
    [
      '404 not found',
      googleError(5, "The resource 'projects/p/zones/z/instances/n' was not found"),
      'InvalidRequestError',
      'notFound',
      'provider',
    ],
    [
      '403 regional quota',
      googleError(7, "Quota 'NVIDIA_T4_GPUS' exceeded.  Limit: 4.0 in region us-central1."),
      'QuotaError',
      'quotaExceeded',
      'region',
    ],
    [
      '403 GPUS_ALL_REGIONS quota',
      googleError(7, "Quota 'GPUS_ALL_REGIONS' exceeded.  Limit: 0.0 globally."),
      'QuotaError',
      'quotaExceeded',
      'provider',
    ],
    [
      '403 rate limit',
      googleError(7, 'Rate Limit Exceeded'),
      'TransientProviderError',
      'rateLimitExceeded',
      'provider',
    ],
    [
      '429 per-minute quota',
      googleError(
        8,
        "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'compute.googleapis.com'",
      ),
      'TransientProviderError',
      'rateLimitExceeded',
      'provider',
    ],
    [
      '403 permission',
      googleError(7, "Required 'compute.instances.create' permission for 'projects/p'"),
      'AuthError',
      'forbidden',
      'provider',
    ],
    [
      '401',
      googleError(16, 'Request is missing required authentication credential.'),
      'AuthError',
      'required',
      'provider',
    ],
    [
      '400 invalid',
      googleError(3, "Invalid value for field 'resource.name': 'X'."),
      'InvalidRequestError',
      'invalid',
      'provider',
    ],
    [
      '503',
      googleError(14, 'Internal error. Please try again or contact Google Support.'),
      'TransientProviderError',
      'backendError',
      'provider',
    ],
    ['500', googleError(13, 'Internal Error'), 'TransientProviderError', 'backendError', 'provider'],
    [
      '503 with an ErrorInfo naming the pool',
      googleError(14, 'The zone does not have enough resources', { reason: 'ZONE_RESOURCE_POOL_EXHAUSTED' }),
      'CapacityError',
      'ZONE_RESOURCE_POOL_EXHAUSTED',
      'zone',
    ],
    [
      'a capacity message without ErrorInfo',
      googleError(
        14,
        "The zone 'projects/p/zones/z' does not have enough resources available to fulfill the request.",
      ),
      'CapacityError',
      'ZONE_RESOURCE_POOL_EXHAUSTED',
      'zone',
    ],
    [
      'an ErrorInfo RESOURCE_OPERATION_RATE_EXCEEDED',
      googleError(8, 'too fast', { reason: 'RESOURCE_OPERATION_RATE_EXCEEDED' }),
      'TransientProviderError',
      'RESOURCE_OPERATION_RATE_EXCEEDED',
      'provider',
    ],
  ])('%s is a %s (%s, scope %s)', (_label, err, name, code, scope) => {
    const e = classifyGcpError(err, here);
    expect(e).toMatchObject({ name, code, scope, location: here });
  });

  test('socket failures are NetworkError, however they are wrapped', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(classifyGcpError(new TypeError('fetch failed', { cause: refused }), here).code).toBe(
      'NetworkError',
    );
    expect(classifyGcpError(new Error('TypeError: fetch failed'), here).code).toBe('NetworkError');
    expect(
      classifyGcpError(Object.assign(new Error('request to x failed'), { code: 'ECONNRESET' }), here).code,
    ).toBe('NetworkError');
  });

  test('an answer that is not JSON is a transient BadResponse; missing credentials are an AuthError', () => {
    expect(classifyGcpError(new SyntaxError("Unexpected token '<'"), here)).toMatchObject({
      name: 'TransientProviderError',
      code: 'BadResponse',
    });
    expect(
      classifyGcpError(
        new Error('Could not load the default credentials. Browse to https://cloud.google.com'),
        here,
      ),
    ).toMatchObject({ name: 'AuthError', code: 'NoCredentials' });
  });

  test('facts keep the message and prefer an ErrorInfo reason over the message', () => {
    expect(gceErrorFacts(googleError(10, 'x already exists', { reason: 'RESOURCE_IN_USE' }))).toEqual({
      code: 'RESOURCE_IN_USE',
      message: 'x already exists',
    });
    expect(gceErrorFacts('a string')).toBeUndefined();
  });
});

describe('classifyOperationError: finished operations', () => {
  const op = (code: string, extra: Record<string, unknown> = {}, http = 400) => ({
    status: 'DONE',
    httpErrorStatusCode: http,
    error: { errors: [{ code, message: `${code} happened`, ...extra }] },
  });

  test('a finished operation without errors is no error', () => {
    expect(classifyOperationError({ httpErrorStatusCode: null, error: null }, here)).toBeUndefined();
    expect(classifyOperationError({ error: { errors: [] } }, here)).toBeUndefined();
  });

  test.each<[string, string, string]>([
    ['ZONE_RESOURCE_POOL_EXHAUSTED', 'CapacityError', 'zone'],
    ['ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS', 'CapacityError', 'zone'],
    ['UNSUPPORTED_OPERATION', 'CapacityError', 'zone'],
    ['RESOURCE_NOT_READY', 'CapacityError', 'zone'],
    ['RESOURCE_OPERATION_RATE_EXCEEDED', 'TransientProviderError', 'provider'],
    ['INVALID_FIELD_VALUE', 'InvalidRequestError', 'provider'],
    ['RESOURCE_NOT_FOUND', 'InvalidRequestError', 'provider'],
    ['RESOURCE_ALREADY_EXISTS', 'InvalidRequestError', 'provider'],
  ])('%s is a %s of scope %s', (code, name, scope) => {
    expect(classifyOperationError(op(code), here)).toMatchObject({ name, code, scope });
  });

  test('QUOTA_EXCEEDED blocks the region, or the provider when quotaInfo names a global quota', () => {
    const regional = op(
      'QUOTA_EXCEEDED',
      {
        errorDetails: [
          {
            quotaInfo: {
              metricName: 'compute.googleapis.com/nvidia_l4_gpus',
              limitName: 'NVIDIA-T4-GPUS-per-project-region',
              dimensions: { region: 'us-central1' },
            },
          },
        ],
      },
      403,
    );
    const global = op(
      'QUOTA_EXCEEDED',
      {
        errorDetails: [
          {
            quotaInfo: {
              metricName: 'compute.googleapis.com/gpus_all_regions',
              limitName: 'GPUS-ALL-REGIONS-per-project',
            },
          },
        ],
      },
      403,
    );
    expect(classifyOperationError(regional, here)).toMatchObject({ name: 'QuotaError', scope: 'region' });
    expect(classifyOperationError(global, here)).toMatchObject({ name: 'QuotaError', scope: 'provider' });
  });

  test('an unknown code is decided by the operation HTTP status', () => {
    expect(classifyOperationError(op('SOMETHING_NEW', {}, 503), here)).toMatchObject({
      name: 'TransientProviderError',
    });
    expect(classifyOperationError(op('SOMETHING_NEW', {}, 403), here)).toMatchObject({ name: 'AuthError' });
    expect(classifyOperationError(op('SOMETHING_NEW', {}, 400), here)).toMatchObject({
      name: 'InvalidRequestError',
    });
  });

  test('quotaScope reads the metric, the limit name or the message', () => {
    expect(quotaScope({ metricName: 'GPUS_ALL_REGIONS' }, '')).toBe('provider');
    expect(quotaScope(undefined, "Quota 'CPUS_ALL_REGIONS' exceeded.  Limit: 32.0 globally.")).toBe(
      'provider',
    );
    expect(quotaScope({ metricName: 'NVIDIA_L4_GPUS', region: 'us-east1' }, '')).toBe('region');
  });
});
