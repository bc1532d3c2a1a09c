/**
 * The boot script an EC2 instance runs (UserData): the shared boot script (../boot-script.ts),
 * with the instance's own id read from IMDSv2, which only the instance knows.
 */
import { bootScript, type BootScriptOptions } from '../boot-script';

export { shellQuote } from '../boot-script';

export type UserDataOptions = BootScriptOptions;

/** EC2 rejects user data over 16 KiB (before base64). */
export const MAX_USER_DATA_BYTES = 16 * 1024;

/** Reads the instance id from IMDSv2 unless DRIFTLESS_INSTANCE_ID is already set. */
const IMDS_INSTANCE_ID = [
  'if [ -z "${DRIFTLESS_INSTANCE_ID:-}" ]; then',
  '  imds="${DRIFTLESS_IMDS_ENDPOINT:-http://169.254.169.254}"',
  '  token=$(curl -fsS --retry 10 --retry-connrefused -X PUT "$imds/latest/api/token" \\',
  "    -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')",
  '  DRIFTLESS_INSTANCE_ID=$(curl -fsS --retry 10 --retry-connrefused \\',
  '    -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/instance-id")',
  'fi',
];

/**
 * The script's text. Variables a harness may set before running it: DRIFTLESS_INSTANCE_ID (skips
 * IMDS), DRIFTLESS_IMDS_ENDPOINT, DRIFTLESS_INSTANCE_DIR, and DRIFTLESS_AGENT_FOREGROUND=1 (runs
 * the agent in the foreground instead of as a systemd unit).
 */
export function userDataScript(o: UserDataOptions): string {
  return bootScript(o, IMDS_INSTANCE_ID, 'aws');
}

/** The script base64-encoded, as RunInstances takes it (the SDK does not encode UserData). */
export function buildUserData(o: UserDataOptions): string {
  return Buffer.from(userDataScript(o), 'utf8').toString('base64');
}
