import { FailureType } from '../common/names';
import type { FailureScope, Location } from './types';

/**
 * Every error a provider throws on purpose is one of these. The scope says what a failover
 * blocks; `retryable` says whether the same call may succeed if simply repeated.
 */
export abstract class ProviderError extends Error {
  /** Whether the same call may succeed if simply repeated: only for transient errors. */
  readonly retryable: boolean = false;
  constructor(
    message: string,
    readonly location: Location,
    /** The provider's own error code, e.g. "InsufficientInstanceCapacity". */
    readonly code?: string,
    /** What a failover blocks. @default "provider" */
    readonly scope: FailureScope = 'provider',
  ) {
    super(message);
  }
}

/** No capacity for this shape in this zone right now; try elsewhere. */
export class CapacityError extends ProviderError {
  override readonly name = FailureType.Capacity;
  constructor(message: string, location: Location, code?: string) {
    super(message, location, code, 'zone');
  }
}

/** An account limit in this region (unless scoped otherwise); other regions may still work. */
export class QuotaError extends ProviderError {
  override readonly name = FailureType.Quota;
  constructor(message: string, location: Location, code?: string, scope: FailureScope = 'region') {
    super(message, location, code, scope);
  }
}

/** Throttling, a 5xx or a dropped connection: the same call may work if repeated. */
export class TransientProviderError extends ProviderError {
  override readonly name = FailureType.Transient;
  override readonly retryable = true;
}

/** The provider (or, for a local pool, the pool) is down; block it (or the given scope) for a cooldown. */
export class ProviderUnavailableError extends ProviderError {
  override readonly name = FailureType.ProviderUnavailable;
}

/** The request itself is wrong; repeating it anywhere will not help. Surfaced to the user. */
export class InvalidRequestError extends ProviderError {
  override readonly name = FailureType.InvalidRequest;
}

/** Credentials are missing, expired or lack a permission. Surfaced to the user. */
export class AuthError extends ProviderError {
  override readonly name = FailureType.Auth;
}

/** Refuses a provision carrying another installation's owner mark (reconcile would not see it). */
export function checkOwner(requested: string, configured: string, location: Location): void {
  if (requested !== configured) {
    throw new InvalidRequestError(
      `provision for owner "${requested}" on a provider configured for "${configured}"`,
      location,
      'OwnerMismatch',
    );
  }
}
