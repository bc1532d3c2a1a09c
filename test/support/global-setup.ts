import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevServer, type DevServer } from '../../src/client/services/dev-server';
import { freePort } from '../../src/common/free-port';
import { identify, isAlive, type ProcessIdentity } from '../../src/common/processes';
import { ENV_PREFIX, killProcessesUnder } from './harness';

declare global {
  var __driftlessDevServer: { server: DevServer; record: string } | undefined;
}

/** Test dev servers record themselves here, so a run killed before its teardown is cleaned up by the next. */
const RECORDS = join(tmpdir(), 'driftless-test-servers');

interface ServerRecord {
  owner: ProcessIdentity;
  server: ProcessIdentity;
}

/** Stops dev servers whose jest run died without tearing them down. */
async function reapOrphans(): Promise<void> {
  mkdirSync(RECORDS, { recursive: true });
  for (const f of readdirSync(RECORDS)) {
    const file = join(RECORDS, f);
    try {
      const rec = JSON.parse(readFileSync(file, 'utf8')) as ServerRecord;
      if (isAlive(rec.owner)) continue;
      if (isAlive(rec.server)) process.kill(rec.server.pid, 'SIGTERM');
      rmSync(file, { force: true });
    } catch {
      rmSync(file, { force: true });
    }
  }
}

/**
 * Test installations whose jest process died before their teardown: their agents and workloads
 * are killed and their directories removed.
 */
function reapOrphanInstallations(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(ENV_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    try {
      const owner = JSON.parse(readFileSync(join(dir, 'owner.json'), 'utf8')) as ProcessIdentity;
      if (isAlive(owner)) continue;
    } catch {
      continue; // not one of ours, or still being made
    }
    killProcessesUnder(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One real Temporal dev server (from the Temporal CLI, found or installed by
 * scripts/ensure-temporal.sh) for the whole run, unless TEMPORAL_TEST_ADDRESS names one.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.TEMPORAL_TEST_ADDRESS) return;
  await reapOrphans();
  reapOrphanInstallations();
  const port = await freePort();
  const server = await startDevServer({
    port,
    headless: true,
    logFile: join(tmpdir(), `driftless-test-temporal-${port}.log`),
    readyTimeoutMs: 120_000,
  });
  const record = join(RECORDS, `${server.process.pid}.json`);
  const owner = identify(process.pid);
  const self = server.process.pid !== undefined ? identify(server.process.pid) : undefined;
  if (owner && self) writeFileSync(record, JSON.stringify({ owner, server: self } satisfies ServerRecord));
  globalThis.__driftlessDevServer = { server, record };
  // Test files run in jest workers forked after this, which inherit the variable.
  process.env.TEMPORAL_TEST_ADDRESS = server.address;
}
