/**
 * The one way cloud adapters call their APIs: every call has a deadline and the caller's
 * AbortSignal, and transient failures are retried here with bounded backoff. The SDKs' own
 * retries are off, so a capacity error reaches the failover logic at once.
 */
import type { Logger } from 'pino';
import { sleep } from '../common/sleep';
import type { CallPolicy } from './config-fields';
import { ProviderError, ProviderUnavailableError, TransientProviderError } from './errors';
import type { Location } from './types';

/** What a call is about: where (for classification) and the caller's cancellation. */
export interface CallContext {
  location: Location;
  signal?: AbortSignal;
}

/** Codes in ProviderError.code that mean "nothing answered" rather than "something refused". */
export const UNANSWERED_CODES: ReadonlySet<string> = new Set(['DeadlineExceeded', 'NetworkError']);

/** Node's socket-level failures: nothing answered, or the connection broke. */
export const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);

export interface ProviderCallsOptions {
  policy: CallPolicy;
  logger: Logger;
  /** The API as messages name it, e.g. "EC2". */
  service: string;
  /** Turns whatever a call threw into the taxonomy (a ProviderError is passed through). */
  classify: (err: unknown, location: Location) => ProviderError;
  /**
   * Codes that, when every try ended with one, make the location unavailable rather than
   * transiently failing. @default {@link UNANSWERED_CODES}
   */
  unavailableCodes?: ReadonlySet<string>;
}

/**
 * `promise`, or a rejection as soon as `signal` aborts. For clients that take no signal: the
 * abandoned call runs on unobserved, and its outcome is dropped.
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  promise.catch(() => undefined);
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export class ProviderCalls {
  private readonly log: Logger;

  constructor(private readonly opts: ProviderCallsOptions) {
    this.log = opts.logger;
  }

  private cancelled(location: Location): TransientProviderError {
    return new TransientProviderError(`${this.opts.service} call cancelled`, location, 'Cancelled');
  }

  /**
   * One try of `fn` with the per-call deadline. Errors come back classified; a missed deadline is
   * a TransientProviderError with code "DeadlineExceeded", a cancelled call one with "Cancelled".
   * The call ends when the signal aborts even if `fn` ignores the signal it is given.
   * `timeoutMs` replaces the deadline for a call the server itself holds open (a long poll).
   */
  async once<T>(
    ctx: CallContext,
    fn: (signal: AbortSignal) => Promise<T>,
    timeoutMs = this.opts.policy.callTimeout,
  ): Promise<T> {
    if (ctx.signal?.aborted) throw this.cancelled(ctx.location);
    const ms = timeoutMs;
    const deadline = AbortSignal.timeout(ms);
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, deadline]) : deadline;
    try {
      return await untilAborted(fn(signal), signal);
    } catch (err) {
      if (ctx.signal?.aborted) throw this.cancelled(ctx.location);
      if (deadline.aborted) {
        const where = [ctx.location.region, ctx.location.zone].filter(Boolean).join('/');
        throw new TransientProviderError(
          `${this.opts.service} in ${where} did not answer within ${ms} ms`,
          ctx.location,
          'DeadlineExceeded',
        );
      }
      throw this.opts.classify(err, ctx.location);
    }
  }

  /**
   * Runs `fn` (which should use {@link once} for its calls) until it succeeds, a non-retryable
   * error comes up, or `maxAttempts` tries are spent. When every try ended with an
   * "unavailable" code (by default: no answer at all), the region counts as unavailable so that
   * failover moves on instead of Temporal retrying a silent endpoint; throttling stays transient.
   */
  async retrying<T>(ctx: CallContext, what: string, fn: (attempt: number) => Promise<T>): Promise<T> {
    const { maxAttempts, retryDelay, maxRetryDelay } = this.opts.policy;
    const unavailableCodes = this.opts.unavailableCodes ?? UNANSWERED_CODES;
    let unanswered = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(attempt);
      } catch (raw) {
        // API errors were classified by `once`; anything else is a bug, not a retry case.
        if (!(raw instanceof ProviderError)) throw raw;
        const err = raw;
        if (!err.retryable || err.code === 'Cancelled') throw err;
        if (err.code !== undefined && unavailableCodes.has(err.code)) unanswered++;
        if (attempt >= maxAttempts) {
          if (unanswered === attempt) {
            throw new ProviderUnavailableError(
              `${err.message} (${attempt} tries)`,
              ctx.location,
              err.code,
              'region',
            );
          }
          throw err;
        }
        const cap = Math.min(maxRetryDelay, retryDelay * 2 ** (attempt - 1));
        const delay = Math.round(cap / 2 + (Math.random() * cap) / 2);
        this.log.warn(
          {
            what,
            attempt,
            delayMs: delay,
            code: err.code,
            region: ctx.location.region,
            zone: ctx.location.zone,
            err: err.message,
          },
          `transient ${this.opts.service} failure; retrying`,
        );
        try {
          await sleep(delay, ctx.signal);
        } catch {
          throw this.cancelled(ctx.location);
        }
      }
    }
  }

  /** `once` inside `retrying`: the usual shape of a read-only call. */
  call<T>(ctx: CallContext, what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.retrying(ctx, what, () => this.once(ctx, fn));
  }
}
