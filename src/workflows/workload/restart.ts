/**
 * Restart in place: after a failed workload's backoff, the agent on the same instance stops
 * what is left of it and starts it again (the next generation), so a machine with scarce GPUs
 * is not given back for a process crash. Only a lost instance is re-placed.
 */
import { recoveryLimits } from '../../spec/recovery-defaults';
import { failureTypeOf, messageOf } from './failures';
import { shortId } from '../details';
import { agentOf } from './proxies';
import { httpCheck, raceAgent } from './race';
import { onLoss, restartAfter } from './recovery';
import { refOf, type WorkloadState } from './state';
import { supervise, type Supervision } from './supervise';

/** Failures of the workload itself at a start: the instance is fine. */
const WORKLOAD_FAILURES: ReadonlySet<string> = new Set(['WorkloadExited', 'WorkloadUnhealthy']);

type Restarted = { ok: true; pid: number; port?: number } | { ok: false; how: string; exited: boolean };

/**
 * Starts the workload again on the current instance. Returns its supervision once it runs
 * (and, for HTTP workloads, answers); undefined when it failed again (counted, backed off: the
 * loop tries once more), when the instance was lost (re-placed) or when a stop came first.
 */
export async function restartInPlace(state: WorkloadState): Promise<Supervision | undefined> {
  const c = state.status.current!;
  const ref = refOf(c);
  const spec = state.spec;
  const { startupGrace } = spec.health;
  const { stopGrace } = recoveryLimits(spec.recovery);
  const http = httpCheck(spec);
  // Recorded before the call: a generation the agent may have seen is never asked for again.
  const generation = (c.restartsHere ?? 0) + 1;
  c.restartsHere = generation;
  state.setPhase('STARTING');
  const r = await raceAgent(state, ref, async (): Promise<Restarted> => {
    // The agent stops what is left of the old run first (up to the stop grace), then starts.
    const id = shortId(ref.id);
    const w = await agentOf(ref.id, {
      startup: true,
      startupGraceMs: startupGrace + stopGrace,
    }).startWorkload.executeWithOptions(
      { summary: state.waitFor(`restart the workload on ${id} (restart ${generation} here)`) },
      [
        {
          workload: spec.name,
          command: spec.command,
          env: spec.env,
          ...(spec.health.http ? { http: { port: spec.health.http.port } } : {}),
          generation,
          stopGraceMs: stopGrace,
        },
      ],
    );
    if (http) {
      try {
        // A margin past the agent's own deadline: its "not healthy in time" (a workload failure,
        // restarted here) must come before Temporal's timeout (which reads as a lost machine).
        const margin = http.timeoutMs + 5000;
        const summary = state.waitFor(`wait until the workload on ${id} answers GET ${http.path}`);
        await agentOf(ref.id, {
          startup: true,
          startupGraceMs: startupGrace + margin,
        }).waitHealthy.executeWithOptions({ summary }, [{ http, timeoutMs: startupGrace }]);
      } catch (err) {
        const type = failureTypeOf(err);
        if (type === undefined || !WORKLOAD_FAILURES.has(type)) throw err;
        return { ok: false, how: messageOf(err), exited: type === 'WorkloadExited' };
      }
    }
    return { ok: true, pid: w.pid, port: w.port };
  });
  if (r.kind === 'stop') return undefined;
  if (r.kind === 'lost') {
    await onLoss(state, r.reason, r.state);
    return undefined;
  }
  const where = { instanceId: ref.id, location: `${ref.provider}/${ref.region}` };
  if (!r.value.ok) {
    state.setPhase('RECOVERING');
    state.event(
      r.value.exited ? 'exited' : 'unhealthy',
      `restart on ${ref.id} failed: ${r.value.how}`,
      where,
    );
    await restartAfter(state, r.value.exited ? 'exited before it answered' : 'unhealthy', undefined);
    return undefined;
  }
  state.currentPort = r.value.port;
  if (r.value.port !== undefined && c.address !== undefined) c.endpoint = `${c.address}:${r.value.port}`;
  state.setPhase('RUNNING');
  state.event(
    'restarted',
    `restarted in place on ${ref.id} (pid ${r.value.pid}; restart ${generation} here)`,
    where,
  );
  return supervise(state, ref);
}
