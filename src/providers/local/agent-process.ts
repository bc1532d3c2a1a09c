/** The agent process that is a local instance: started detached in its own process group. */
import { spawn } from 'node:child_process';
import { closeSync, fchmodSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { findProcess, identify, type ProcessIdentity } from '../../common/processes';
import { packageRoot } from '../../package-root';
import type { ProvisionRequest } from '../types';
import { localAgentEnv } from './agent-env';
import { PRIVATE_FILE, type LocalInstanceRecord } from './records';

/** The agent process started for an instance, found by its argv (`--instance <id>`). */
export function findAgentProcess(id: string): ProcessIdentity | undefined {
  return findProcess((argv) => argv.includes('--instance') && argv[argv.indexOf('--instance') + 1] === id);
}

/**
 * Starts the instance's agent in `dir`, its output appended to agent.log. `command` is the argv
 * before driftless's own arguments (default: node and the built agent).
 */
export function spawnAgent(
  rec: LocalInstanceRecord,
  req: ProvisionRequest,
  dir: string,
  log: Logger,
  command: string[] = [process.execPath, join(packageRoot(), 'dist/agent/main.js')],
): ProcessIdentity {
  const out = openSync(join(dir, 'agent.log'), 'a', PRIVATE_FILE);
  try {
    fchmodSync(out, PRIVATE_FILE); // one made before files were private
    const child = spawn(
      command[0]!,
      [...command.slice(1), '--instance', rec.id, '--workload', rec.labels.workload],
      {
        detached: true, // its own process group: terminate ends the agent and nothing else
        stdio: ['ignore', out, out],
        cwd: dir,
        env: localAgentEnv(req.agent, {
          DRIFTLESS_INSTANCE_ID: rec.id,
          DRIFTLESS_INSTANCE_DIR: dir,
          DRIFTLESS_WORKLOAD: rec.labels.workload,
          CUDA_VISIBLE_DEVICES: rec.gpuIndexes.join(','),
          ...(rec.runAs ? { DRIFTLESS_WORKLOAD_USER: rec.runAs } : {}),
        }),
      },
    );
    // A failed spawn also emits 'error'; without a listener it would crash the worker.
    child.on('error', (err) => log.error({ instanceId: rec.id, err: err.message }, 'agent process error'));
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start the agent (${command.join(' ')})`);
    const identity = identify(pid);
    return identity ?? { pid, startTime: 'unknown' };
  } finally {
    closeSync(out);
  }
}

/** What an agent gets between SIGTERM and SIGKILL when its workload's stop grace is unknown. */
const AGENT_GRACE_MS = 8000;
/** At most this long: a terminate activity times out after a minute (terminateBriefly). */
const AGENT_GRACE_MAX_MS = 45_000;

/**
 * How long a terminate lets the agent stop its workload: the workload's grace and a margin, as
 * a cloud machine's shutdown would give it. The workflow's graceful stop (stopWorkload) has
 * usually ended the workload before this, so the wait is short in practice.
 */
export function agentGraceMs(stopGraceMs: number | undefined): number {
  if (stopGraceMs === undefined) return AGENT_GRACE_MS;
  return Math.min(AGENT_GRACE_MAX_MS, Math.max(AGENT_GRACE_MS, stopGraceMs + 3000));
}
