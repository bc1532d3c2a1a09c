/**
 * The environment a local agent (or a pool's agent host) is started with: an explicit list, never
 * the worker's whole environment. The worker's own secrets that an agent has no use for
 * (cloud keys, tokens of other tools) stay in the worker.
 */
import { agentConnectionEnv, deadManEnvValue, type AgentSettings } from '../types';

/** Variables of the worker's environment an agent keeps when set: the basics a process needs. */
const BASICS = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'] as const;

/** driftless settings an agent reads and takes from the worker when set. */
const DRIFTLESS_SETTINGS = [
  // The payload codec: the workflow's arguments to the agent are encrypted with it.
  'DRIFTLESS_CODEC_KEY',
  'DRIFTLESS_CODEC_PREVIOUS_KEYS',
  'DRIFTLESS_LOG_LEVEL',
  'DRIFTLESS_SDK_LOG_LEVEL',
  'DRIFTLESS_HOST_IDLE_MS',
  'DRIFTLESS_NOTICE_INTERVAL_MS',
] as const;

/**
 * The agent's environment: the basics and driftless settings taken from `from` (the worker's
 * environment), the Temporal connection in `agent` as TEMPORAL_* variables, the dead-man's
 * timeout, then `extra` (the instance's own settings).
 */
export function localAgentEnv(
  agent: AgentSettings,
  extra: Record<string, string>,
  from: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [...BASICS, ...DRIFTLESS_SETTINGS]) {
    const v = from[name];
    if (v !== undefined && v !== '') env[name] = v;
  }
  return {
    ...env,
    ...agentConnectionEnv(agent),
    DRIFTLESS_DEAD_MAN_TIMEOUT: deadManEnvValue(agent),
    ...extra,
  };
}
