/**
 * EC2 clients and the one way this provider calls them: every call has a deadline and the
 * caller's AbortSignal, and transient failures are retried here with bounded backoff. The SDK's
 * own retries are off, so a capacity error reaches the failover logic at once.
 */
import { EC2Client, type EC2ClientConfig } from '@aws-sdk/client-ec2';
import type { Logger } from 'pino';
import { ProviderError, ProviderUnavailableError, TransientProviderError } from '../errors';
import type { Location } from '../types';
import type { AwsProviderConfig } from './config';
import { UNANSWERED_CODES, classifyAwsError } from './errors';

/** Makes the EC2 client of one region. */
export type Ec2ClientFactory = (region: string) => EC2Client;

/** Credentials as the SDK takes them: static keys or a provider function. */
export type AwsCredentials = EC2ClientConfig['credentials'];

export interface AwsApiOptions {
  config: AwsProviderConfig;
  logger: Logger;
  /** @default the SDK's default credential chain */
  credentials?: AwsCredentials;
  /** @default an EC2Client per region with the config's endpoint and no SDK retries */
  clientFactory?: Ec2ClientFactory;
}

/** What a call is about: where (for classification) and the caller's cancellation. */
export interface CallContext {
  location: Location;
  signal?: AbortSignal;
}

/** Thrown when the caller's signal aborts: the work was cancelled, not failed. */
function cancelled(location: Location): TransientProviderError {
  return new TransientProviderError('EC2 call cancelled', location, 'Cancelled');
}

/** The sleep between tries; rejects as soon as `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('aborted'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class AwsApi {
  private readonly clients = new Map<string, EC2Client>();
  private readonly log: Logger;

  constructor(private readonly opts: AwsApiOptions) {
    this.log = opts.logger.child({ component: 'aws-api' });
  }

  get config(): AwsProviderConfig {
    return this.opts.config;
  }

  /** The region's client, made once. */
  client(region: string): EC2Client {
    let c = this.clients.get(region);
    if (!c) {
      c =
        this.opts.clientFactory?.(region) ??
        new EC2Client({
          region,
          endpoint: this.opts.config.endpoint,
          credentials: this.opts.credentials,
          // One try: this module decides what is retried (a capacity error must fail over now).
          maxAttempts: 1,
        });
      this.clients.set(region, c);
    }
    return c;
  }

  /**
   * One try of `fn` with the per-call deadline. Errors come back classified; a missed deadline is
   * a TransientProviderError with code "DeadlineExceeded".
   */
  async once<T>(ctx: CallContext, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (ctx.signal?.aborted) throw cancelled(ctx.location);
    const ms = this.opts.config.callTimeout;
    const deadline = AbortSignal.timeout(ms);
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, deadline]) : deadline;
    try {
      return await fn(signal);
    } catch (err) {
      if (ctx.signal?.aborted) throw cancelled(ctx.location);
      if (deadline.aborted) {
        const where = [ctx.location.region, ctx.location.zone].filter(Boolean).join('/');
        throw new TransientProviderError(
          `EC2 in ${where} did not answer within ${ms} ms`,
          ctx.location,
          'DeadlineExceeded',
        );
      }
      throw classifyAwsError(err, ctx.location);
    }
  }

  /**
   * Runs `fn` (which should use {@link once} for its calls) until it succeeds, a non-retryable
   * error comes up, or `maxAttempts` tries are spent. When every try ended without an answer
   * (deadline, connection refused), the region counts as unavailable so that failover moves on
   * instead of Temporal retrying a silent endpoint; throttling and 5xx stay transient.
   */
  async retrying<T>(ctx: CallContext, what: string, fn: () => Promise<T>): Promise<T> {
    const { maxAttempts, retryDelay, maxRetryDelay } = this.opts.config;
    let unanswered = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (raw) {
        // SDK errors were classified by `once`; anything else is a bug, not a retry case.
        if (!(raw instanceof ProviderError)) throw raw;
        const err = raw;
        if (!err.retryable || err.code === 'Cancelled') throw err;
        if (err.code !== undefined && UNANSWERED_CODES.has(err.code)) unanswered++;
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
          { what, attempt, delayMs: delay, code: err.code, region: ctx.location.region, err: err.message },
          'transient EC2 failure; retrying',
        );
        try {
          await sleep(delay, ctx.signal);
        } catch {
          throw cancelled(ctx.location);
        }
      }
    }
  }

  /** `once` inside `retrying`: the usual shape of a read-only call. */
  call<T>(ctx: CallContext, what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.retrying(ctx, what, () => this.once(ctx, fn));
  }

  /** Closes the clients' sockets. */
  destroy(): void {
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }
}
