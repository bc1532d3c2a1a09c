import pino from 'pino';
import type { Logger } from 'pino';
import type { GcpClientOptions } from './api';
import type { GcpProviderConfig } from './config';
import { GcpProvider, type GcpCheckResult } from './gcp-provider';

export interface CheckGcpOptions {
  /** @default a silent logger */
  logger?: Logger;
  /** Replaces parts of the client options. @default from the config */
  clientOptions?: Partial<GcpClientOptions>;
  /** A SkyPilot-format catalog directory (for the zones of configured regions). @default the bundled one */
  catalogDir?: string;
  signal?: AbortSignal;
}

/**
 * What `driftless check` reports for GCP: per configured zone, whether it answers, whether the
 * credentials are accepted and whether the zone is UP. Creates nothing.
 */
export async function checkGcp(
  config: GcpProviderConfig,
  opts: CheckGcpOptions = {},
): Promise<GcpCheckResult> {
  const provider = new GcpProvider({
    config,
    owner: 'driftless-check',
    logger: opts.logger ?? pino({ level: 'silent' }),
    clientOptions: opts.clientOptions,
    catalogDir: opts.catalogDir,
  });
  try {
    return await provider.check(opts.signal);
  } finally {
    await provider.close();
  }
}
