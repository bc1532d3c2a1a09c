/**
 * EC2 clients and the one way this provider calls them: every call has a deadline and the
 * caller's AbortSignal, and transient failures are retried here with bounded backoff. The SDK's
 * own retries are off, so a capacity error reaches the failover logic at once.
 */
import { EC2Client, type EC2ClientConfig } from '@aws-sdk/client-ec2';
import type { Logger } from 'pino';
import { ProviderCalls, type CallContext } from '../calls';
import type { AwsProviderConfig } from './config';
import { classifyAwsError } from './errors';

export type { CallContext } from '../calls';

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

export class AwsApi {
  private readonly clients = new Map<string, EC2Client>();
  private readonly calls: ProviderCalls;

  constructor(private readonly opts: AwsApiOptions) {
    this.calls = new ProviderCalls({
      policy: opts.config,
      logger: opts.logger.child({ component: 'aws-api' }),
      service: 'EC2',
      classify: classifyAwsError,
    });
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

  /** One try with the per-call deadline; see {@link ProviderCalls.once}. */
  once<T>(ctx: CallContext, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.calls.once(ctx, fn);
  }

  /** Tries `fn` within the bounds; see {@link ProviderCalls.retrying}. */
  retrying<T>(ctx: CallContext, what: string, fn: () => Promise<T>): Promise<T> {
    return this.calls.retrying(ctx, what, fn);
  }

  /** `once` inside `retrying`: the usual shape of a read-only call. */
  call<T>(ctx: CallContext, what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.calls.call(ctx, what, fn);
  }

  /** Closes the clients' sockets. */
  destroy(): void {
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }
}
