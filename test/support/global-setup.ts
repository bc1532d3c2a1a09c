import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startDevServer, type DevServer } from '../../src/client/services/dev-server';

declare global {
  var __driftlessDevServer: DevServer | undefined;
}

/**
 * One real Temporal dev server (from the Temporal CLI, found or installed by
 * scripts/ensure-temporal.sh) for the whole run, unless TEMPORAL_TEST_ADDRESS names one.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.TEMPORAL_TEST_ADDRESS) return;
  const port = await freePort();
  const server = await startDevServer({
    port,
    headless: true,
    logFile: join(tmpdir(), `driftless-test-temporal-${port}.log`),
    readyTimeoutMs: 120_000,
  });
  globalThis.__driftlessDevServer = server;
  // Test files run in jest workers forked after this, which inherit the variable.
  process.env.TEMPORAL_TEST_ADDRESS = server.address;
}
