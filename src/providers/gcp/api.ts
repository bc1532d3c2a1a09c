/**
 * Compute Engine clients (@google-cloud/compute over its REST transport) and the one way this
 * provider calls them: every call has a deadline and the caller's AbortSignal, and transient
 * failures are retried here with bounded backoff. The library's own retries are off for every
 * call, so a capacity error reaches the failover logic at once. The library (two seconds to load
 * all of its clients) is loaded on the first call, not when this module is imported.
 */
import type { InstancesClient, ZoneOperationsClient, ZonesClient } from '@google-cloud/compute';
import type { Logger } from 'pino';
import { ProviderCalls, type CallContext } from '../calls';
import { AuthError } from '../errors';
import type { GcpProviderConfig } from './config';
import { GCP_UNAVAILABLE_CODES, classifyGcpError } from './errors';

export type { CallContext } from '../calls';

/** What the generated clients' constructors take. */
export type GcpClientOptions = NonNullable<ConstructorParameters<typeof InstancesClient>[0]>;

/**
 * Per-call options of every call: no library retries (google-gax would retry UNAVAILABLE on
 * reads for up to ten minutes), one page at a time.
 */
export const CALL_OPTIONS = { retry: null, autoPaginate: false } as const;

/**
 * An auth client that sends no credentials, for an emulator or the tests' fake server. google-gax
 * takes any object with getRequestHeaders and a fetch-compatible `fetch` (it is what
 * google-auth-library's PassThroughClient does, without reaching for that package directly).
 */
const NO_AUTH = {
  getRequestHeaders: () => Promise.resolve(new Headers()),
  fetch: (url: string | URL, init?: RequestInit) => fetch(url, init),
};

/** The client options of a configuration: REST transport, the endpoint, the credentials. */
export function gcpClientOptions(config: GcpProviderConfig): GcpClientOptions {
  const opts: GcpClientOptions & { protocol?: string } = { fallback: true };
  if (config.endpoint) {
    const url = new URL(config.endpoint);
    opts.apiEndpoint = url.hostname;
    opts.port = Number(url.port) || (url.protocol === 'http:' ? 80 : 443);
    opts.protocol = url.protocol.replace(/:$/, '');
  }
  if (config.credentials === 'none') {
    opts.authClient = NO_AUTH as unknown as GcpClientOptions['authClient'];
  }
  return opts;
}

export interface GcpApiOptions {
  config: GcpProviderConfig;
  logger: Logger;
  /** Replaces parts of the client options (tests). @default {@link gcpClientOptions} of the config */
  clientOptions?: Partial<GcpClientOptions>;
}

export class GcpApi {
  private readonly calls: ProviderCalls;
  private readonly clientOptions: GcpClientOptions;
  private sdk?: typeof import('@google-cloud/compute');
  private loading?: Promise<void>;
  private instancesClient?: InstancesClient;
  private operationsClient?: ZoneOperationsClient;
  private zonesClient?: ZonesClient;
  private credentialsFound = false;

  constructor(private readonly opts: GcpApiOptions) {
    this.clientOptions = { ...gcpClientOptions(opts.config), ...opts.clientOptions };
    this.calls = new ProviderCalls({
      policy: opts.config,
      logger: opts.logger.child({ component: 'gcp-api' }),
      service: 'Compute Engine',
      classify: classifyGcpError,
      unavailableCodes: GCP_UNAVAILABLE_CODES,
    });
  }

  get config(): GcpProviderConfig {
    return this.opts.config;
  }

  private load(): Promise<void> {
    return (this.loading ??= import('@google-cloud/compute').then((m) => {
      this.sdk = m;
    }));
  }

  private get loaded(): typeof import('@google-cloud/compute') {
    if (!this.sdk) throw new Error('GcpApi: clients are only for calls made through once/call/retrying');
    return this.sdk;
  }

  /** The Instances client, made on first use (constructing one does no I/O either way). */
  get instances(): InstancesClient {
    return (this.instancesClient ??= new this.loaded.InstancesClient({ ...this.clientOptions }));
  }

  get zoneOperations(): ZoneOperationsClient {
    return (this.operationsClient ??= new this.loaded.ZoneOperationsClient({ ...this.clientOptions }));
  }

  get zones(): ZonesClient {
    return (this.zonesClient ??= new this.loaded.ZonesClient({ ...this.clientOptions }));
  }

  /**
   * One try with the per-call deadline (or `timeoutMs`); see {@link ProviderCalls.once}. The
   * library is loaded before the deadline starts.
   */
  async once<T>(ctx: CallContext, fn: (signal: AbortSignal) => Promise<T>, timeoutMs?: number): Promise<T> {
    await this.load();
    await this.credentials(ctx);
    return this.calls.once(ctx, fn, timeoutMs);
  }

  /**
   * Finds the Application Default Credentials once, before the first call. A client that cannot
   * find them fails its call with an unhandled rejection inside google-gax (its `initialize()`
   * rethrows from a detached promise), which would end the process: here it is an AuthError.
   */
  private async credentials(ctx: CallContext): Promise<void> {
    if (this.clientOptions.authClient || this.credentialsFound) return;
    const auth = (this.zones as unknown as { auth?: { getClient(): Promise<unknown> } }).auth;
    try {
      await auth?.getClient();
      this.credentialsFound = true;
    } catch (err) {
      throw new AuthError(
        `GCP credentials: ${(err as Error).message.split('\n')[0]} (Application Default Credentials: ` +
          'GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth application-default login`, or the instance service account)',
        ctx.location,
        'NoCredentials',
      );
    }
  }

  /** Tries `fn` within the bounds; see {@link ProviderCalls.retrying}. */
  retrying<T>(ctx: CallContext, what: string, fn: (attempt: number) => Promise<T>): Promise<T> {
    return this.calls.retrying(ctx, what, fn);
  }

  /** `once` inside `retrying`: the usual shape of a read-only call. */
  call<T>(ctx: CallContext, what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.retrying(ctx, what, () => this.once(ctx, fn));
  }

  /** Closes the clients. */
  async close(): Promise<void> {
    const clients = [this.instancesClient, this.operationsClient, this.zonesClient];
    this.instancesClient = this.operationsClient = this.zonesClient = undefined;
    await Promise.all(clients.map((c) => c?.close()));
  }
}
