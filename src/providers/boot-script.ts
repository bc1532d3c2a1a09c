/**
 * The boot script a cloud instance runs (EC2 UserData, GCE startup-script): install the agent,
 * then start it with the Temporal connection settings and the instance's own id. Each cloud
 * supplies the lines that find that id; everything else is shared.
 */

import { agentConnectionEnv, deadManEnvValue, type AgentSettings, type ProvisionRequest } from './types';
import { workloadUserLines } from './workload-user';

export interface BootScriptOptions {
  /** host:port of the Temporal frontend, as the instance reaches it. */
  temporalAddress: string;
  temporalNamespace: string;
  /**
   * The agent's other connection variables: TEMPORAL_TLS and TLS's public settings, and where
   * it fetches its credentials (DRIFTLESS_*_SECRET). Never a credential itself.
   */
  connectionEnv?: Record<string, string>;
  workload: string;
  /** Shell line installing the agent; "" when the image has it. */
  agentInstall: string;
  /** Shell line starting the agent. */
  agentCommand: string;
  /** DRIFTLESS_DEAD_MAN_TIMEOUT for the agent (see {@link deadManEnvValue}). */
  deadManTimeout: string;
}

/**
 * What the agent runs when its dead-man's switch fires on a cloud instance: the machine goes
 * away (on EC2, a shutdown terminates it: InstanceInitiatedShutdownBehavior is "terminate").
 */
export const CLOUD_SHUTDOWN_COMMAND = 'shutdown -h now';

/** How the agent is started on the instance when `agentCommand` is not set. */
export const DEFAULT_AGENT_COMMAND = 'node "$(npm root -g)/driftless/dist/agent/main.js"';

/** The boot script's settings for one provision: the agent's connection from the request, its install and start lines from the provider's config. */
export function bootOptions(
  req: ProvisionRequest,
  agent: Pick<BootScriptOptions, 'agentInstall' | 'agentCommand'>,
): BootScriptOptions {
  const { TEMPORAL_ADDRESS: _a, TEMPORAL_NAMESPACE: _n, ...connectionEnv } = cloudAgentEnv(req.agent);
  return {
    temporalAddress: req.agent.address,
    temporalNamespace: req.agent.namespace,
    connectionEnv,
    workload: req.labels.workload,
    agentInstall: agent.agentInstall,
    agentCommand: agent.agentCommand,
    deadManTimeout: deadManEnvValue(req.agent),
  };
}

/**
 * The agent's connection variables for a boot script, which a cloud keeps in user data or
 * metadata that anyone with read access to the instance sees: refuses a literal credential.
 */
export function cloudAgentEnv(agent: AgentSettings): Record<string, string> {
  if (
    agent.apiKey !== undefined ||
    agent.tls?.clientKeyPem !== undefined ||
    agent.tls?.clientCertPem !== undefined
  ) {
    throw new Error(
      'a cloud agent is never given a literal credential: set agent.temporal.apiKey / clientCert / clientKey to secret references',
    );
  }
  return agentConnectionEnv(agent);
}

/** Single-quotes a value for bash. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The script's text. `instanceIdLines` must leave DRIFTLESS_INSTANCE_ID set (and should keep a
 * value already in the environment, which is how a harness plays the instance). Variables a
 * harness may also set: DRIFTLESS_INSTANCE_DIR, DRIFTLESS_AGENT_FOREGROUND=1 (runs the agent
 * in the foreground instead of as a systemd unit) and DRIFTLESS_SHUTDOWN_COMMAND (set it empty
 * so that a dead-man's switch never shuts the harness's machine down).
 */
export function bootScript(
  o: BootScriptOptions,
  instanceIdLines: readonly string[],
  notices?: 'aws' | 'gcp',
): string {
  const install = o.agentInstall.trim();
  const extra = o.connectionEnv ?? {};
  for (const k of Object.keys(extra)) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(k)) throw new Error(`boot script: bad variable name ${k}`);
  }
  return [
    '#!/bin/bash',
    `# driftless: installs and starts the agent of workload ${o.workload.replace(/[\r\n]/g, ' ')}.`,
    'set -euo pipefail',
    `export TEMPORAL_ADDRESS=${shellQuote(o.temporalAddress)}`,
    `export TEMPORAL_NAMESPACE=${shellQuote(o.temporalNamespace)}`,
    ...Object.entries(extra).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
    `export DRIFTLESS_WORKLOAD=${shellQuote(o.workload)}`,
    `export DRIFTLESS_DEAD_MAN_TIMEOUT=${shellQuote(o.deadManTimeout)}`,
    `export DRIFTLESS_SHUTDOWN_COMMAND="\${DRIFTLESS_SHUTDOWN_COMMAND-${CLOUD_SHUTDOWN_COMMAND}}"`,
    'export DRIFTLESS_INSTANCE_DIR="${DRIFTLESS_INSTANCE_DIR:-/var/lib/driftless}"',
    // Where the agent looks for spot and maintenance notices (a harness may serve its own).
    ...(notices
      ? [
          `export DRIFTLESS_NOTICES=${notices}`,
          `export DRIFTLESS_METADATA_URL="\${DRIFTLESS_METADATA_URL:-${notices === 'aws' ? 'http://169.254.169.254' : 'http://metadata.google.internal'}}"`,
        ]
      : []),
    ...instanceIdLines,
    'export DRIFTLESS_INSTANCE_ID',
    'mkdir -p "$DRIFTLESS_INSTANCE_DIR"',
    'cd "$DRIFTLESS_INSTANCE_DIR"',
    ...workloadUserLines(),
    install === '' ? ': # the image has the agent' : install,
    `agent=${shellQuote(o.agentCommand)}`,
    'if [ -z "${DRIFTLESS_AGENT_FOREGROUND:-}" ] && [ -d /run/systemd/system ] && command -v systemd-run >/dev/null; then',
    '  # A unit, so that the boot script finishes and a crashed agent comes back.',
    '  exec systemd-run --unit=driftless-agent -p Restart=on-failure -p WorkingDirectory="$DRIFTLESS_INSTANCE_DIR" \\',
    '    --setenv=TEMPORAL_ADDRESS --setenv=TEMPORAL_NAMESPACE --setenv=DRIFTLESS_WORKLOAD \\',
    '    --setenv=DRIFTLESS_INSTANCE_ID --setenv=DRIFTLESS_INSTANCE_DIR --setenv=DRIFTLESS_WORKLOAD_USER \\',
    '    --setenv=DRIFTLESS_DEAD_MAN_TIMEOUT --setenv=DRIFTLESS_SHUTDOWN_COMMAND \\',
    ...Object.keys(extra).map((k) => `    --setenv=${k} \\`),
    '    --setenv=DRIFTLESS_NOTICES --setenv=DRIFTLESS_METADATA_URL /bin/bash -c "$agent"',
    'fi',
    'exec /bin/bash -c "$agent"',
    '',
  ].join('\n');
}
