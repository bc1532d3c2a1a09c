/**
 * Compute Engine's errors mapped onto the provider error taxonomy (../errors.ts). They arrive in
 * two shapes, and both are reduced to the same facts before classification:
 *
 * - A refused HTTP call: google-gax (REST transport) throws a GoogleError whose `code` is the gRPC
 *   code (from `error.status` when Google sends it, else mapped from the HTTP status: 400 ->
 *   INVALID_ARGUMENT, 403 -> PERMISSION_DENIED, 409 -> ABORTED, 429 -> RESOURCE_EXHAUSTED, 503 ->
 *   UNAVAILABLE), whose `message` is `error.message`, and whose `reason`/`domain` come from a
 *   google.rpc.ErrorInfo in `error.details` when there is one. The legacy `error.errors[].reason`
 *   ("alreadyExists", "quotaExceeded", ...) is dropped by the transport, so Google's stable
 *   message texts ("... already exists", "Quota 'X' exceeded") are read where no ErrorInfo says it.
 * - A finished operation (status DONE) with `error.errors[{code, message, errorDetails}]` and
 *   `httpErrorStatusCode`: the codes are GCE's own (ZONE_RESOURCE_POOL_EXHAUSTED, QUOTA_EXCEEDED).
 */
import { AuthError, CapacityError, InvalidRequestError } from '../errors';
import { ProviderError, QuotaError, TransientProviderError } from '../errors';
import { NETWORK_CODES, UNANSWERED_CODES } from '../calls';
import type { FailureScope, Location } from '../types';

/** No capacity for this shape in this zone: try another zone. */
const CAPACITY = new Set([
  'ZONE_RESOURCE_POOL_EXHAUSTED',
  'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS',
  'insufficientCapacity',
  // "The resource 'nvidia-l4' is not available in zone ..." and similar: not here, maybe elsewhere.
  'UNSUPPORTED_OPERATION',
  'RESOURCE_NOT_READY',
]);

/** A project limit; a region's unless the quota is global (see {@link quotaScope}). */
const QUOTA = new Set(['QUOTA_EXCEEDED', 'quotaExceeded']);

/** Throttling and server-side trouble: the same call may work if repeated. */
const TRANSIENT = new Set([
  'rateLimitExceeded',
  'userRateLimitExceeded',
  'RESOURCE_OPERATION_RATE_EXCEEDED',
  'RATE_LIMIT_EXCEEDED',
  'backendError',
  'internalError',
  'INTERNAL_ERROR',
  'conflict',
  // An answer that was not the API's JSON (a proxy's HTML page, an empty body).
  'BadResponse',
  // 400 "The resource '...' is not ready": a delete of an instance still PROVISIONING or STAGING.
  // Not a wrong request: the same call works once the instance has booted.
  'resourceNotReady',
]);

/** Credentials missing, invalid, or without a permission; the API not enabled for the project. */
const AUTH = new Set([
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
]);

/** The request is wrong in a way that repeating it anywhere will not fix. */
const INVALID = new Set([
  'invalid',
  'badRequest',
  'invalidParameter',
  'INVALID_FIELD_VALUE',
  'INVALID_USAGE',
  'REQUIRED_FIELD_MISSING',
  'conditionNotMet',
  'CONDITION_NOT_MET',
  'notImplemented',
]);

/** Codes of "no such resource", from an HTTP answer and from an operation. */
export const NOT_FOUND_CODES: ReadonlySet<string> = new Set(['notFound', 'RESOURCE_NOT_FOUND']);
/** The code of an HTTP answer refusing a call on a resource that is still being set up. */
export const NOT_READY_CODES: ReadonlySet<string> = new Set(['resourceNotReady']);
/** Codes of "a resource of that name exists", from an HTTP answer and from an operation. */
export const ALREADY_EXISTS_CODES: ReadonlySet<string> = new Set([
  'alreadyExists',
  'RESOURCE_ALREADY_EXISTS',
]);

/**
 * Codes that, when every try of a call ended with one, make the region unavailable: nothing
 * answered, or only 5xx came back (an outage). Throttling stays transient: the API is up.
 */
export const GCP_UNAVAILABLE_CODES: ReadonlySet<string> = new Set([
  ...UNANSWERED_CODES,
  'backendError',
  'BadResponse',
]);

/** Google's reason for a gRPC status code (as google-gax reports it) when nothing more specific is known. */
const REASON_OF_GRPC: Readonly<Record<number, string>> = {
  3: 'invalid', // INVALID_ARGUMENT
  4: 'backendError', // DEADLINE_EXCEEDED
  5: 'notFound', // NOT_FOUND
  6: 'alreadyExists', // ALREADY_EXISTS
  7: 'forbidden', // PERMISSION_DENIED
  8: 'rateLimitExceeded', // RESOURCE_EXHAUSTED
  9: 'conditionNotMet', // FAILED_PRECONDITION
  10: 'conflict', // ABORTED
  11: 'invalid', // OUT_OF_RANGE
  12: 'notImplemented', // UNIMPLEMENTED
  13: 'backendError', // INTERNAL
  14: 'backendError', // UNAVAILABLE
  16: 'required', // UNAUTHENTICATED
};

/** What a quota error says about the quota (operation errorDetails[].quotaInfo, or the message). */
export interface QuotaFacts {
  metricName?: string;
  limitName?: string;
  region?: string;
}

/** One error reduced to what classification needs. */
export interface GceErrorFacts {
  /** GCE's code: an operation error's code, an ErrorInfo reason, or Google's legacy reason. */
  code: string;
  message: string;
  /** HTTP status, when known. */
  httpStatus?: number;
  quota?: QuotaFacts;
}

/** The well-known message texts of errors whose reason the REST transport dropped. */
function reasonFromMessage(message: string): string | undefined {
  if (/^Quota '[^']+' exceeded/i.test(message)) return 'quotaExceeded';
  if (/rate limit exceeded|quota exceeded for quota metric .* per minute/i.test(message)) {
    return 'rateLimitExceeded';
  }
  if (/does not have enough resources available/i.test(message)) return 'ZONE_RESOURCE_POOL_EXHAUSTED';
  if (/\balready exists\b/i.test(message)) return 'alreadyExists';
  if (/\bThe resource '[^']+' is not ready\b/i.test(message)) return 'resourceNotReady';
  return undefined;
}

/** "Quota 'NVIDIA_T4_GPUS' exceeded.  Limit: 4.0 in region us-central1." */
function quotaFromMessage(message: string): QuotaFacts | undefined {
  const metricName = /Quota '([^']+)' exceeded/i.exec(message)?.[1];
  if (!metricName) return undefined;
  return { metricName, region: /in region ([a-z]+-[a-z]+\d+)/.exec(message)?.[1] };
}

/**
 * The scope a quota blocks: a global quota (GPUS_ALL_REGIONS, any quota reported "globally")
 * blocks the whole provider, since no other region of this project has room either.
 */
export function quotaScope(q: QuotaFacts | undefined, message: string): FailureScope {
  const names = [q?.metricName, q?.limitName, message].filter(Boolean).join(' ');
  return /gpus[_-]all[_-]regions|\bglobal(ly)?\b/i.test(names) ? 'provider' : 'region';
}

/** Classifies one error by its facts at `location`. */
export function classifyGceFacts(f: GceErrorFacts, location: Location): ProviderError {
  const where = [location.region, location.zone].filter(Boolean).join('/') || 'gcp';
  const msg = (what: string) => `${what} in ${where}: ${f.code}: ${f.message}`;
  const { code, httpStatus } = f;
  if (CAPACITY.has(code)) return new CapacityError(msg('no capacity'), location, code);
  if (QUOTA.has(code)) {
    const quota = f.quota ?? quotaFromMessage(f.message);
    return new QuotaError(msg('project quota reached'), location, code, quotaScope(quota, f.message));
  }
  if (TRANSIENT.has(code))
    return new TransientProviderError(msg('Compute Engine is struggling'), location, code);
  if (AUTH.has(code)) {
    return new AuthError(
      msg('Google Cloud credentials were refused') +
        ' (check Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS,' +
        ' `gcloud auth application-default login`, the service account and its roles)',
      location,
      code,
    );
  }
  if (INVALID.has(code) || NOT_FOUND_CODES.has(code) || ALREADY_EXISTS_CODES.has(code)) {
    return new InvalidRequestError(msg('Compute Engine refused the request'), location, code);
  }
  // An unknown code: its HTTP status decides.
  if (httpStatus === 401 || httpStatus === 403)
    return classifyGceFacts({ ...f, code: 'forbidden' }, location);
  if (httpStatus !== undefined && httpStatus >= 400 && httpStatus < 500 && httpStatus !== 429) {
    return new InvalidRequestError(msg('Compute Engine refused the request'), location, code);
  }
  return new TransientProviderError(msg('Compute Engine call failed'), location, code);
}

interface GaxErrorShape {
  name?: string;
  code?: number | string;
  message?: string;
  reason?: string;
  status?: number;
  response?: { status?: number };
  cause?: unknown;
  errors?: unknown[];
}

/** A socket-level code anywhere in the error, its causes, or an AggregateError's members. */
function networkCode(err: unknown, depth = 0): string | undefined {
  if (typeof err !== 'object' || err === null || depth > 4) return undefined;
  const e = err as GaxErrorShape;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e.code;
  for (const inner of [e.cause, ...(Array.isArray(e.errors) ? e.errors : [])]) {
    const c = networkCode(inner, depth + 1);
    if (c) return c;
  }
  if (typeof e.message === 'string') {
    const named = /\b(E[A-Z_]{3,})\b/.exec(e.message)?.[1];
    if (named && NETWORK_CODES.has(named)) return named;
    // undici's "fetch failed" (google-gax passes it on as "TypeError: fetch failed", its cause
    // dropped) is a connection that failed before any answer.
    if (/\bfetch failed\b|socket hang up/.test(e.message)) return 'ECONNRESET';
  }
  return undefined;
}

/** Messages of google-auth-library when Application Default Credentials cannot be had. */
const CREDENTIAL_MESSAGES =
  /Could not load the default credentials|Could not refresh access token|invalid_grant|invalid_client|unauthorized_client|No authentication was provided/i;

/** The facts of an error thrown by a @google-cloud/compute call (or the network under it). */
export function gceErrorFacts(err: unknown): GceErrorFacts | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as GaxErrorShape;
  const message = (e.message ?? String(err)).trim();
  if (CREDENTIAL_MESSAGES.test(message)) return { code: 'NoCredentials', message };
  if (typeof e.code !== 'number') return undefined;
  const code = e.reason || reasonFromMessage(message) || REASON_OF_GRPC[e.code] || `grpc-${e.code}`;
  return { code, message };
}

/**
 * Classifies an error thrown by a Compute Engine call at `location`. A ProviderError is returned
 * as it is; socket failures are "NetworkError", an answer that is not JSON is "BadResponse",
 * anything unrecognised is transient.
 */
export function classifyGcpError(err: unknown, location: Location): ProviderError {
  if (err instanceof ProviderError) return err;
  const where = [location.region, location.zone].filter(Boolean).join('/') || 'gcp';
  const detail = err instanceof Error ? err.message : String(err);
  const net = networkCode(err);
  if (net) {
    return new TransientProviderError(
      `Compute Engine endpoint did not answer in ${where}: ${net}: ${detail}`,
      location,
      'NetworkError',
    );
  }
  const facts = gceErrorFacts(err);
  if (facts) return classifyGceFacts(facts, location);
  if (err instanceof SyntaxError || /^Received null (or malformed )?response/.test(detail)) {
    return new TransientProviderError(
      `Compute Engine answered in ${where} with something other than its JSON: ${detail}`,
      location,
      'BadResponse',
    );
  }
  return new TransientProviderError(`Compute Engine call failed in ${where}: ${detail}`, location, 'Unknown');
}

/** An operation's error as the API returns it (protos.google.cloud.compute.v1.IOperation). */
export interface GceOperationErrorShape {
  error?: {
    errors?: Array<{
      code?: string | null;
      message?: string | null;
      errorDetails?: Array<{
        quotaInfo?: {
          metricName?: string | null;
          limitName?: string | null;
          dimensions?: Record<string, string> | null;
        } | null;
        errorInfo?: { reason?: string | null } | null;
      }> | null;
    }> | null;
  } | null;
  httpErrorStatusCode?: number | null;
  httpErrorMessage?: string | null;
}

/** The facts of a finished operation's first error, or undefined when it succeeded. */
export function operationErrorFacts(op: GceOperationErrorShape): GceErrorFacts | undefined {
  const errors = op.error?.errors ?? [];
  if (errors.length === 0) return undefined;
  const first = errors[0]!;
  const details = first.errorDetails ?? [];
  const quotaInfo = details.find((d) => d.quotaInfo)?.quotaInfo;
  const message = errors.map((e) => e.message ?? e.code ?? '').join('; ');
  return {
    code: first.code || details.find((d) => d.errorInfo?.reason)?.errorInfo?.reason || 'Unknown',
    message,
    httpStatus: op.httpErrorStatusCode ?? undefined,
    quota: quotaInfo
      ? {
          metricName: quotaInfo.metricName ?? undefined,
          limitName: quotaInfo.limitName ?? undefined,
          region: quotaInfo.dimensions?.region,
        }
      : undefined,
  };
}

/** The error of a finished operation in the taxonomy, or undefined when it succeeded. */
export function classifyOperationError(
  op: GceOperationErrorShape,
  location: Location,
): ProviderError | undefined {
  const facts = operationErrorFacts(op);
  return facts && classifyGceFacts(facts, location);
}
