/**
 * The boot script an EC2 instance runs (UserData): install the agent, then start it with the
 * Temporal connection settings and the instance's own id, which only the instance knows (read
 * from IMDSv2).
 */

export interface UserDataOptions {
  /** host:port of the Temporal frontend, as the instance reaches it. */
  temporalAddress: string;
  temporalNamespace: string;
  workload: string;
  /** Shell line installing the agent; "" when the image has it. */
  agentInstall: string;
  /** Shell line starting the agent. */
  agentCommand: string;
}

/** EC2 rejects user data over 16 KiB (before base64). */
export const MAX_USER_DATA_BYTES = 16 * 1024;

/** Single-quotes a value for bash. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The script's text. Variables a harness may set before running it: DRIFTLESS_INSTANCE_ID (skips
 * IMDS), DRIFTLESS_IMDS_ENDPOINT, DRIFTLESS_INSTANCE_DIR, and DRIFTLESS_AGENT_FOREGROUND=1 (runs
 * the agent in the foreground instead of as a systemd unit).
 */
export function userDataScript(o: UserDataOptions): string {
  const install = o.agentInstall.trim();
  return [
    '#!/bin/bash',
    `# driftless: installs and starts the agent of workload ${o.workload.replace(/[\r\n]/g, ' ')}.`,
    'set -euo pipefail',
    `export TEMPORAL_ADDRESS=${shellQuote(o.temporalAddress)}`,
    `export TEMPORAL_NAMESPACE=${shellQuote(o.temporalNamespace)}`,
    `export DRIFTLESS_WORKLOAD=${shellQuote(o.workload)}`,
    'export DRIFTLESS_INSTANCE_DIR="${DRIFTLESS_INSTANCE_DIR:-/var/lib/driftless}"',
    'if [ -z "${DRIFTLESS_INSTANCE_ID:-}" ]; then',
    '  imds="${DRIFTLESS_IMDS_ENDPOINT:-http://169.254.169.254}"',
    '  token=$(curl -fsS --retry 10 --retry-connrefused -X PUT "$imds/latest/api/token" \\',
    "    -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')",
    '  DRIFTLESS_INSTANCE_ID=$(curl -fsS --retry 10 --retry-connrefused \\',
    '    -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/instance-id")',
    'fi',
    'export DRIFTLESS_INSTANCE_ID',
    'mkdir -p "$DRIFTLESS_INSTANCE_DIR"',
    'cd "$DRIFTLESS_INSTANCE_DIR"',
    install === '' ? ': # the image has the agent' : install,
    `agent=${shellQuote(o.agentCommand)}`,
    'if [ -z "${DRIFTLESS_AGENT_FOREGROUND:-}" ] && [ -d /run/systemd/system ] && command -v systemd-run >/dev/null; then',
    '  # A unit, so that cloud-init finishes and a crashed agent comes back.',
    '  exec systemd-run --unit=driftless-agent -p Restart=on-failure -p WorkingDirectory="$DRIFTLESS_INSTANCE_DIR" \\',
    '    --setenv=TEMPORAL_ADDRESS --setenv=TEMPORAL_NAMESPACE --setenv=DRIFTLESS_WORKLOAD \\',
    '    --setenv=DRIFTLESS_INSTANCE_ID --setenv=DRIFTLESS_INSTANCE_DIR /bin/bash -c "$agent"',
    'fi',
    'exec /bin/bash -c "$agent"',
    '',
  ].join('\n');
}

/** The script base64-encoded, as RunInstances takes it (the SDK does not encode UserData). */
export function buildUserData(o: UserDataOptions): string {
  return Buffer.from(userDataScript(o), 'utf8').toString('base64');
}
