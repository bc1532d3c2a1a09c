/** What the AWS and GCP provider tests share: the owner mark, a silent logger and the settings every cloud config has. */
import pino from 'pino';
import { DEFAULT_AGENT_COMMAND } from '../../src/providers/boot-script';
import type { Offer, ProvisionRequest } from '../../src/providers/types';
import { provisionRequest, type RequestOverrides } from '../support/provision-request';

export const OWNER = 'test-owner';

export const silentLogger = pino({ level: 'silent' });

/** A request of {@link OWNER} for the offer, with a fresh workflow id unless one is given. */
export function request(o: Offer, over: RequestOverrides = {}): ProvisionRequest {
  return provisionRequest(o, OWNER, over);
}

/** An agent install line and retries fast enough for tests. */
export const TEST_CLOUD_SETTINGS = {
  agentInstall: 'npm install -g https://example.com/driftless-0.1.0.tgz',
  retryDelay: '10ms',
  maxRetryDelay: '50ms',
};

/** The parsed defaults of the settings every cloud config shares (src/providers/config-fields.ts). */
export const SHARED_DEFAULTS = {
  agentCommand: DEFAULT_AGENT_COMMAND,
  maxAttempts: 4,
  retryDelay: 200,
  maxRetryDelay: 2000,
  callTimeout: 30_000,
};

/**
 * Starts `call` with a signal aborted 300 ms later, and expects it to fail as "Cancelled" at once,
 * far within its 20 s deadline.
 */
export async function expectCancelledPromptly(
  call: (signal: AbortSignal) => Promise<unknown>,
): Promise<void> {
  const ac = new AbortController();
  const started = Date.now();
  const pending = call(ac.signal);
  setTimeout(() => ac.abort(), 300);
  await expect(pending).rejects.toMatchObject({ code: 'Cancelled' });
  expect(Date.now() - started).toBeLessThan(5000);
}
