/**
 * The user a workload runs as (DRIFTLESS_WORKLOAD_USER): looked up once when the agent starts,
 * so that a missing user or an agent that cannot switch users is a clear error on the first
 * start instead of a workload that runs with the agent's own rights.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** A user from the passwd database. */
export interface RunAsUser {
  name: string;
  uid: number;
  gid: number;
  /** Its home directory (HOME of the workload). */
  home: string;
}

/** The workload cannot be started as the configured user; the operator must act. */
export class WorkloadUserError extends Error {
  override readonly name = 'WorkloadUserError';
  constructor(
    message: string,
    readonly user: string,
  ) {
    super(message);
  }
}

/** One passwd line (`name:x:uid:gid:gecos:home:shell`) as a user, or undefined when malformed. */
export function parsePasswdLine(line: string): RunAsUser | undefined {
  const f = line.trim().split(':');
  if (f.length < 7) return undefined;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!f[0] || !Number.isInteger(uid) || !Number.isInteger(gid) || f[2] === '' || f[3] === '')
    return undefined;
  return { name: f[0], uid, gid, home: f[5] || '/' };
}

/**
 * The user named `name` from `getent passwd` (so that NSS users count), or from /etc/passwd
 * where getent is not installed; undefined when there is no such user.
 */
export function lookupUser(name: string): RunAsUser | undefined {
  let text: string;
  try {
    text = execFileSync('getent', ['passwd', name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return undefined; // exit 2: no such user
    text = readFileSync('/etc/passwd', 'utf8');
  }
  for (const line of text.split('\n')) {
    const u = parsePasswdLine(line);
    if (u && u.name === name) return u;
  }
  return undefined;
}

/**
 * The user the workload is to run as, or undefined when `name` is unset or empty (it runs as the
 * agent). Throws {@link WorkloadUserError} when the user does not exist, or when it is another
 * user and the agent is not root (only root can start a process as someone else).
 */
export function resolveWorkloadUser(
  name: string | undefined,
  deps: { lookup?: (name: string) => RunAsUser | undefined; uid?: number } = {},
): RunAsUser | undefined {
  if (name === undefined || name.trim() === '') return undefined;
  const user = (deps.lookup ?? lookupUser)(name.trim());
  if (!user) {
    throw new WorkloadUserError(
      `the workload is to run as user "${name}" (runAs, DRIFTLESS_WORKLOAD_USER), which does not exist on ` +
        `this machine: create it (useradd --system ${name}) or change runAs`,
      name,
    );
  }
  const me = deps.uid ?? process.getuid?.() ?? -1;
  if (user.uid !== me && me !== 0) {
    throw new WorkloadUserError(
      `the workload is to run as user "${name}" (uid ${user.uid}), but the agent runs as uid ${me}, not root, ` +
        `and cannot switch users: run the agent as root or remove runAs (DRIFTLESS_WORKLOAD_USER)`,
      name,
    );
  }
  return user;
}
