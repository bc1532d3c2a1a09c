/**
 * Every Compute Engine code the classifier knows, each with an HTTP status that would classify
 * it otherwise if the code were not known; the status fallbacks at their bounds; the facts read
 * from gax errors (gRPC codes, message texts) and from finished operations. Shapes as
 * errors.test.ts builds them.
 */
import {
  ALREADY_EXISTS_CODES,
  GCP_UNAVAILABLE_CODES,
  NOT_FOUND_CODES,
  NOT_READY_CODES,
  classifyGceFacts,
  classifyGcpError,
  gceErrorFacts,
  operationErrorFacts,
  quotaScope,
} from '../../../src/providers/gcp/errors';
import type { Location } from '../../../src/providers/types';

const here: Location = { provider: 'gcp', region: 'us-central1', zone: 'us-central1-a' };

function googleError(code: number, message: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { name: 'Error', code, details: [], note: undefined, ...extra });
}

const classOf = (code: string, httpStatus?: number) => {
  const e = classifyGceFacts({ code, message: 'm', httpStatus }, here);
  return [e.name, e.scope, e.code];
};

// A 400 would make an unknown code an invalid request.
test.each([
  'ZONE_RESOURCE_POOL_EXHAUSTED',
  'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS',
  'insufficientCapacity',
  'UNSUPPORTED_OPERATION',
  'RESOURCE_NOT_READY',
])('%s is no capacity in the zone', (code) => {
  expect(classOf(code, 400)).toEqual(['CapacityError', 'zone', code]);
});

test.each(['QUOTA_EXCEEDED', 'quotaExceeded'])('%s is a quota of the region by default', (code) => {
  expect(classOf(code, 400)).toEqual(['QuotaError', 'region', code]);
});

test.each([
  'rateLimitExceeded',
  'userRateLimitExceeded',
  'RESOURCE_OPERATION_RATE_EXCEEDED',
  'RATE_LIMIT_EXCEEDED',
  'backendError',
  'internalError',
  'INTERNAL_ERROR',
  'conflict',
  'BadResponse',
  'resourceNotReady',
])('%s is transient even with a 400', (code) => {
  expect(classOf(code, 400)).toEqual(['TransientProviderError', 'provider', code]);
});

test.each([
  'forbidden',
  'insufficientPermissions',
  'PERMISSIONS_ERROR',
  'IAM_PERMISSION_DENIED',
  'authError',
  'unauthorized',
  'required',
  'accessNotConfigured',
  'SERVICE_DISABLED',
  'NoCredentials',
])('%s is a credentials problem even with a 400', (code) => {
  expect(classOf(code, 400)).toEqual(['AuthError', 'provider', code]);
});

// A 500 would make an unknown code transient.
test.each([
  'invalid',
  'badRequest',
  'invalidParameter',
  'INVALID_FIELD_VALUE',
  'INVALID_USAGE',
  'REQUIRED_FIELD_MISSING',
  'conditionNotMet',
  'CONDITION_NOT_MET',
  'notImplemented',
  'notFound',
  'RESOURCE_NOT_FOUND',
  'alreadyExists',
  'RESOURCE_ALREADY_EXISTS',
])('%s is an invalid request even with a 500', (code) => {
  expect(classOf(code, 500)).toEqual(['InvalidRequestError', 'provider', code]);
});

test('the exported code sets hold what callers match on', () => {
  expect([...NOT_FOUND_CODES]).toEqual(['notFound', 'RESOURCE_NOT_FOUND']);
  expect([...NOT_READY_CODES]).toEqual(['resourceNotReady']);
  expect([...ALREADY_EXISTS_CODES]).toEqual(['alreadyExists', 'RESOURCE_ALREADY_EXISTS']);
  expect([...GCP_UNAVAILABLE_CODES].sort()).toEqual([
    'BadResponse',
    'DeadlineExceeded',
    'NetworkError',
    'backendError',
  ]);
});

describe('an unknown code: the status decides', () => {
  test('401 and 403 are credentials problems, with the next step', () => {
    for (const s of [401, 403]) {
      const e = classifyGceFacts({ code: 'NEW', message: 'm', httpStatus: s }, here);
      expect(e.name).toBe('AuthError');
      expect(e.message).toBe(
        'Google Cloud credentials were refused in us-central1/us-central1-a: forbidden: m' +
          ' (check Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS,' +
          ' `gcloud auth application-default login`, the service account and its roles)',
      );
    }
  });

  test('400 to 499 but 429 are invalid requests; 429, 5xx, below 400 and no status are transient', () => {
    expect(classOf('NEW', 400)[0]).toBe('InvalidRequestError');
    expect(classOf('NEW', 499)[0]).toBe('InvalidRequestError');
    expect(classOf('NEW', 429)[0]).toBe('TransientProviderError');
    expect(classOf('NEW', 500)[0]).toBe('TransientProviderError');
    expect(classOf('NEW', 399)[0]).toBe('TransientProviderError');
    expect(classOf('NEW')[0]).toBe('TransientProviderError');
  });

  test('the messages say what happened and where', () => {
    const f = (code: string, httpStatus?: number) =>
      classifyGceFacts({ code, message: 'm', httpStatus }, here).message;
    expect(f('NEW', 400)).toBe('Compute Engine refused the request in us-central1/us-central1-a: NEW: m');
    expect(f('NEW')).toBe('Compute Engine call failed in us-central1/us-central1-a: NEW: m');
    expect(f('backendError')).toBe(
      'Compute Engine is struggling in us-central1/us-central1-a: backendError: m',
    );
    expect(f('QUOTA_EXCEEDED')).toBe('project quota reached in us-central1/us-central1-a: QUOTA_EXCEEDED: m');
    expect(f('insufficientCapacity')).toBe(
      'no capacity in us-central1/us-central1-a: insufficientCapacity: m',
    );
    expect(classifyGceFacts({ code: 'NEW', message: 'm' }, { provider: 'gcp' }).message).toBe(
      'Compute Engine call failed in gcp: NEW: m',
    );
  });
});

describe('facts of a gax error', () => {
  test.each<[number, string]>([
    [3, 'invalid'],
    [4, 'backendError'],
    [5, 'notFound'],
    [6, 'alreadyExists'],
    [7, 'forbidden'],
    [8, 'rateLimitExceeded'],
    [9, 'conditionNotMet'],
    [10, 'conflict'],
    [11, 'invalid'],
    [12, 'notImplemented'],
    [13, 'backendError'],
    [14, 'backendError'],
    [16, 'required'],
    [2, 'grpc-2'],
  ])('gRPC code %i without a reason or a known message reads as %s', (grpc, code) => {
    expect(gceErrorFacts(googleError(grpc, ' plain words '))).toEqual({ code, message: 'plain words' });
  });

  test.each<[string, string]>([
    ["Quota 'CPUS' exceeded.  Limit: 8.0 in region us-east1.", 'quotaExceeded'],
    ["quota 'CPUS' EXCEEDED", 'quotaExceeded'],
    ['Rate Limit Exceeded', 'rateLimitExceeded'],
    ["Quota exceeded for quota metric 'Queries' and limit 'Queries per minute'", 'rateLimitExceeded'],
    [
      'The zone does not have enough resources available to fulfill the request.',
      'ZONE_RESOURCE_POOL_EXHAUSTED',
    ],
    ["The resource 'x' already exists", 'alreadyExists'],
    ["The resource 'projects/p/zones/z/instances/n' is not ready", 'resourceNotReady'],
  ])('the message %j reads as %s whatever the gRPC code', (message, code) => {
    expect(gceErrorFacts(googleError(2, message))?.code).toBe(code);
  });

  test('a message that only looks like one of those texts is not read as it', () => {
    expect(gceErrorFacts(googleError(2, "Quota '' exceeded"))?.code).toBe('grpc-2');
    expect(gceErrorFacts(googleError(2, 'alreadyexistsnot'))?.code).toBe('grpc-2');
    expect(gceErrorFacts(googleError(2, "see: Quota 'CPUS' exceeded"))?.code).toBe('grpc-2');
  });

  test.each([
    'Could not load the default credentials.',
    'Could not refresh access token: 500',
    'invalid_grant: token expired',
    'invalid_client',
    'unauthorized_client',
    'No authentication was provided',
  ])('%j means no usable credentials, even without a numeric code', (message) => {
    expect(gceErrorFacts(new Error(message))).toEqual({ code: 'NoCredentials', message });
  });

  test('an error without a numeric code and not about credentials has no facts', () => {
    expect(gceErrorFacts(Object.assign(new Error('x'), { code: '7' }))).toBeUndefined();
    expect(gceErrorFacts(null)).toBeUndefined();
    expect(gceErrorFacts({ code: 5 })).toEqual({ code: 'notFound', message: '[object Object]' });
  });

  test('a quota message names the region it blocks; a global quota blocks the provider', () => {
    const e = classifyGcpError(
      googleError(8, "Quota 'GPUS_ALL_REGIONS' exceeded.  Limit: 1.0 globally."),
      here,
    );
    expect(e).toMatchObject({ name: 'QuotaError', scope: 'provider' });
    expect(quotaScope({ limitName: 'GPUS-ALL-REGIONS-per-project' }, '')).toBe('provider');
    expect(quotaScope(undefined, 'limit applies globally')).toBe('provider');
    expect(quotaScope(undefined, 'a global limit')).toBe('provider');
    expect(quotaScope(undefined, 'nonglobal')).toBe('region');
    expect(quotaScope({ metricName: 'gpus-all-regions' }, '')).toBe('provider');
  });
});

describe('classifyGcpError without an answer', () => {
  test.each(['ECONNABORTED', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'])(
    '%s named in a message is a NetworkError with the code and the message',
    (code) => {
      const e = classifyGcpError(new Error(`request failed: ${code} somewhere`), here);
      expect(e).toMatchObject({ name: 'TransientProviderError', code: 'NetworkError' });
      expect(e.message).toBe(
        `Compute Engine endpoint did not answer in us-central1/us-central1-a: ${code}: request failed: ${code} somewhere`,
      );
    },
  );

  test('a socket error among the members of an AggregateError is a NetworkError', () => {
    const agg = new AggregateError(
      [new Error('a'), Object.assign(new Error('b'), { code: 'ECONNREFUSED' })],
      'x',
    );
    expect(classifyGcpError(agg, here).code).toBe('NetworkError');
  });

  test('causes are followed four levels deep, no deeper', () => {
    const wrap = (cause: unknown) => ({ message: 'w', cause });
    const socket = { code: 'ETIMEDOUT' };
    expect(classifyGcpError(wrap(wrap(wrap(wrap(socket)))), here).code).toBe('NetworkError');
    expect(classifyGcpError(wrap(wrap(wrap(wrap(wrap(socket))))), here).code).toBe('Unknown');
  });

  test('"socket hang up" is a broken connection; an E-word that is not a socket code is not', () => {
    expect(classifyGcpError(new Error('socket hang up'), here).message).toMatch(
      /: ECONNRESET: socket hang up$/,
    );
    expect(classifyGcpError(new Error('EACCES: permission denied'), here).code).toBe('Unknown');
  });

  test('an answer that is not JSON is a BadResponse, with what came', () => {
    for (const text of ['Received null response from the server', 'Received null or malformed response']) {
      const e = classifyGcpError(new Error(text), here);
      expect(e).toMatchObject({ name: 'TransientProviderError', code: 'BadResponse' });
      expect(e.message).toBe(
        `Compute Engine answered in us-central1/us-central1-a with something other than its JSON: ${text}`,
      );
    }
    expect(classifyGcpError(new Error('x Received null response'), here).code).toBe('Unknown');
  });

  test('anything else is a transient Unknown that keeps its text', () => {
    expect(classifyGcpError('boom', { provider: 'gcp', region: 'eu-west4' })).toMatchObject({
      name: 'TransientProviderError',
      code: 'Unknown',
      message: 'Compute Engine call failed in eu-west4: boom',
    });
  });
});

describe('facts of a finished operation', () => {
  test('every error message is kept, the first error decides the code, the HTTP status comes along', () => {
    expect(
      operationErrorFacts({
        httpErrorStatusCode: 409,
        error: {
          errors: [
            { code: 'A', message: 'first' },
            { code: 'B', message: null },
            { code: null, message: null },
          ],
        },
      }),
    ).toEqual({ code: 'A', message: 'first; B; ', httpStatus: 409, quota: undefined });
  });

  test('without a code the ErrorInfo reason is the code, else "Unknown"; no status is undefined', () => {
    expect(
      operationErrorFacts({
        httpErrorStatusCode: null,
        error: {
          errors: [{ message: 'm', errorDetails: [{ errorInfo: null }, { errorInfo: { reason: 'WHY' } }] }],
        },
      }),
    ).toMatchObject({ code: 'WHY', httpStatus: undefined });
    expect(operationErrorFacts({ error: { errors: [{ code: '', message: 'm' }] } })?.code).toBe('Unknown');
  });

  test('quotaInfo becomes the quota facts, its region from the dimensions', () => {
    expect(
      operationErrorFacts({
        error: {
          errors: [
            {
              code: 'QUOTA_EXCEEDED',
              message: 'm',
              errorDetails: [
                { errorInfo: { reason: 'x' } },
                { quotaInfo: { metricName: 'M', limitName: null, dimensions: { region: 'r1' } } },
              ],
            },
          ],
        },
      })?.quota,
    ).toEqual({ metricName: 'M', limitName: undefined, region: 'r1' });
  });
});
