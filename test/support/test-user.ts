/**
 * An unprivileged user for tests that run a workload as another user (runAs,
 * DRIFTLESS_WORKLOAD_USER): created with useradd when missing. Only root can create it or start
 * a process as it; elsewhere the tests that need it are skipped with the reason.
 */
import { execFileSync } from 'node:child_process';
import { lookupUser, type RunAsUser } from '../../src/agent/run-as';

/** The test user's name. */
export const TEST_WORKLOAD_USER = 'driftless-test-wl';

/** Why tests that need another user cannot run here, or undefined when they can. */
export function cannotRunAsAnotherUser(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root: only root can start a workload as another user';
  return undefined;
}

/** The test user, created (a system user without a home) when it does not exist yet. */
export function ensureTestUser(): RunAsUser {
  let failure: unknown;
  // Another test run on this machine may be adding it at the same moment: useradd then fails
  // (it exists, or /etc/passwd is locked) and the next look finds it, or the next try works.
  for (let attempt = 0; attempt < 5; attempt++) {
    const had = lookupUser(TEST_WORKLOAD_USER);
    if (had) return had;
    try {
      execFileSync(
        'useradd',
        ['--system', '--user-group', '--shell', '/usr/sbin/nologin', TEST_WORKLOAD_USER],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
    } catch (err) {
      failure = err;
      execFileSync('sleep', ['0.5']);
    }
  }
  throw new Error(`useradd did not create ${TEST_WORKLOAD_USER}: ${String(failure)}`);
}
