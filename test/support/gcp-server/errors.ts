/**
 * Compute Engine's errors as the fake answers them: Google's error JSON for a refused call, and
 * the `error.errors[]` of a finished operation. The texts are the ones GCE sends (as seen in
 * gcloud, Terraform and client-library reports), not strings chosen to suit the classifier.
 */

/** An HTTP error answer in Google's JSON shape. */
export interface HttpFault {
  status: number;
  /** Google's legacy reason ("alreadyExists", "quotaExceeded", "rateLimitExceeded", ...). */
  reason: string;
  message?: string;
  /** Also send a google.rpc.ErrorInfo detail carrying the reason (newer GCE answers do). */
  errorInfo?: boolean;
  /** A body that is not JSON (a proxy's error page). */
  rawBody?: string;
  /** Only calls in this zone. @default every zone */
  zone?: string;
  /** How many calls get it. @default 1 */
  times?: number;
  /**
   * Carry the call out first and only then answer with the fault: the answer was lost on the way
   * back (the insert happened, the client saw a 503). @default false: refused before any change
   */
  afterDoing?: boolean;
}

/** An operation that finishes (status DONE) with an error instead of doing its work. */
export interface OperationFault {
  /** GCE's code, e.g. "ZONE_RESOURCE_POOL_EXHAUSTED", "QUOTA_EXCEEDED". */
  code: string;
  /** @default the text GCE sends with that code ({@link operationErrorText}) */
  message?: string;
  /** httpErrorStatusCode of the operation. @default 503 for capacity codes, 403 for quota, else 400 */
  httpStatus?: number;
  /** errorDetails[].quotaInfo of a quota error. */
  quotaInfo?: { metricName: string; limitName: string; dimensions?: Record<string, string>; limit?: number };
  zone?: string;
  /** @default 1 */
  times?: number;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export const CAPACITY_CODES = new Set([
  'ZONE_RESOURCE_POOL_EXHAUSTED',
  'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS',
]);

/**
 * Ready-made HTTP faults with the texts GCE sends. `{target}` becomes the instance's resource
 * path, `{zone}` the zone's ("projects/p/zones/z", as GCE names it in its messages).
 */
export const GCE_HTTP_ERRORS = {
  alreadyExists: { status: 409, reason: 'alreadyExists', message: "The resource '{target}' already exists" },
  notFound: { status: 404, reason: 'notFound', message: "The resource '{target}' was not found" },
  /** Deleting (or stopping) an instance that is still PROVISIONING or STAGING. */
  resourceNotReady: {
    status: 400,
    reason: 'resourceNotReady',
    message: "The resource '{target}' is not ready",
  },
  quotaExceeded: {
    status: 403,
    reason: 'quotaExceeded',
    message: "Quota 'NVIDIA_T4_GPUS' exceeded.  Limit: 0.0 in region us-central1.",
  },
  gpusAllRegions: {
    status: 403,
    reason: 'quotaExceeded',
    message: "Quota 'GPUS_ALL_REGIONS' exceeded.  Limit: 0.0 globally.",
  },
  rateLimitExceeded: { status: 403, reason: 'rateLimitExceeded', message: 'Rate Limit Exceeded' },
  tooManyRequests: {
    status: 429,
    reason: 'rateLimitExceeded',
    message:
      "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'compute.googleapis.com' for consumer 'project_number:123456789012'.",
  },
  forbidden: {
    status: 403,
    reason: 'forbidden',
    message: "Required 'compute.instances.create' permission for '{target}'",
  },
  insufficientPermissions: {
    status: 403,
    reason: 'insufficientPermissions',
    message: 'Request had insufficient authentication scopes.',
  },
  unauthorized: {
    status: 401,
    reason: 'required',
    message:
      'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
  },
  invalid: {
    status: 400,
    reason: 'invalid',
    message:
      "Invalid value for field 'resource.machineType': 'zones/us-central1-a/machineTypes/nope'. Machine type with name 'nope' does not exist in zone 'us-central1-a'.",
  },
  badRequest: { status: 400, reason: 'badRequest', message: 'Bad Request' },
  backendError: {
    status: 503,
    reason: 'backendError',
    message: "Internal error. Please try again or contact Google Support. (Code: '-5432109876543210987')",
  },
  internalError: { status: 500, reason: 'backendError', message: 'Internal Error' },
  zoneResourcePoolExhausted: {
    status: 503,
    reason: 'ZONE_RESOURCE_POOL_EXHAUSTED',
    errorInfo: true,
    message:
      "The zone '{zone}' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.",
  },
} satisfies Record<string, HttpFault>;

/** The text GCE puts beside an operation error's code; `zone` and `target` as GCE names them. */
export function operationErrorText(code: string, zone: string, target: string): string {
  switch (code) {
    case 'ZONE_RESOURCE_POOL_EXHAUSTED':
      return `The zone '${zone}' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.`;
    case 'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS':
      return `The zone '${zone}' does not have enough resources available to fulfill the request.  '(resource type:compute)'.`;
    case 'QUOTA_EXCEEDED':
      return "Quota 'NVIDIA_T4_GPUS' exceeded.  Limit: 0.0 in region us-central1.";
    case 'RESOURCE_OPERATION_RATE_EXCEEDED':
      return `Operation rate exceeded for resource '${target}'. Too frequent operations from the source resource.`;
    case 'RESOURCE_NOT_READY':
      return `The resource '${target}' is not ready`;
    case 'UNSUPPORTED_OPERATION':
      return `The resource '${zone}/acceleratorTypes/nvidia-tesla-t4' is not available in this zone.`;
    case 'RESOURCE_NOT_FOUND':
      return `The resource '${target}' was not found`;
    case 'RESOURCE_ALREADY_EXISTS':
      return `The resource '${target}' already exists`;
    case 'PERMISSIONS_ERROR':
      return `Required 'compute.instances.create' permission for '${target}'`;
    case 'INVALID_FIELD_VALUE':
      return "Invalid value for field 'resource.disks[0].initializeParams.sourceImage': 'projects/x/global/images/family/nope'. The referenced image resource cannot be found.";
    default:
      return `Operation failed: ${code}.`;
  }
}

/** Google's domain of a legacy reason, as the errors[] entries carry it. */
export function domainOf(reason: string): string {
  if (/quota|rateLimit/i.test(reason)) return 'usageLimits';
  return 'global';
}

export function grpcStatusOf(status: number): string | undefined {
  return {
    400: 'INVALID_ARGUMENT',
    401: 'UNAUTHENTICATED',
    403: 'PERMISSION_DENIED',
    404: 'NOT_FOUND',
    409: 'ALREADY_EXISTS',
    429: 'RESOURCE_EXHAUSTED',
    500: 'INTERNAL',
    503: 'UNAVAILABLE',
  }[status];
}
