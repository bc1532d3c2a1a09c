/**
 * Supervising the current instance: the agent's supervision activity (heartbeats, exit code,
 * HTTP health) in slices, raced against the provider's own view of the instance.
 */
import { CancellationScope, patched } from '@temporalio/workflow';
import type { WorkloadExit } from '../../agent/activities';
import type { Notice } from '../../agent/notices';
import type { InstanceRef, InstanceState } from '../../providers/types';
import { shortId } from '../details';
import { agentOf } from './proxies';
import { httpCheck, raceAgent } from './race';
import type { WorkloadState } from './state';

const HOUR_MS = 3_600_000;
/** Patch: the agent ends a supervision on a spot or maintenance notice, and the workflow moves. */
const PATCH_ACT_ON_NOTICES = 'act-on-notices';

/** What ended a supervision. */
export type Supervised =
  | { kind: 'lost'; reason: string; state?: InstanceState }
  | { kind: 'exited'; exit: WorkloadExit }
  | { kind: 'unhealthy'; reason: string }
  | { kind: 'stop' }
  /** The provider gave notice that the machine goes soon (spot interruption, maintenance). */
  | { kind: 'notice'; notice: Notice }
  /** Supervision paused between slices so the run can continue as new. */
  | { kind: 'detached' };

/** A supervision in progress. */
export interface Supervision {
  ended: Promise<Supervised>;
  /** Stops supervising (the agent stops the workload when its supervision is cancelled). */
  cancel(): Promise<void>;
}

/**
 * Supervises an instance in slices until something ends it. Runs in a scope of its own, so a
 * make-before-break move can provision elsewhere while it goes on.
 */
export function supervise(
  state: WorkloadState,
  instance: InstanceRef,
  o: { notices?: boolean } = {},
): Supervision {
  const scope = new CancellationScope();
  const where = `${instance.provider}/${instance.region}`;
  const ended = scope.run(async (): Promise<Supervised> => {
    for (;;) {
      const summary = state.waitFor(`supervise ${shortId(instance.id)} on ${where}`);
      const r = await raceAgent(state, instance, () =>
        agentOf(instance.id, {
          startup: false,
          heartbeatTimeoutMs: state.heartbeatTimeoutMs,
        }).superviseWorkload.executeWithOptions({ summary }, [
          {
            heartbeatIntervalMs: Math.floor(state.heartbeatTimeoutMs / 3),
            sliceMs: state.input.superviseSliceMs ?? HOUR_MS,
            http: httpCheck(state.spec),
            // Once acted on, a notice does not end the supervision that follows it.
            ...(o.notices !== false && patched(PATCH_ACT_ON_NOTICES) ? { notices: true } : {}),
          },
        ]),
      );
      if (r.kind !== 'done') return r;
      const v = r.value;
      if (v.outcome === 'exited') return { kind: 'exited', exit: v };
      if (v.outcome === 'unhealthy') return { kind: 'unhealthy', reason: v.reason };
      if (v.outcome === 'notice') return { kind: 'notice', notice: v.notice };
      if (state.continueAsNewDue() && !state.pending) return { kind: 'detached' };
    }
  });
  ended.catch(() => undefined);
  return {
    ended,
    async cancel() {
      scope.cancel();
      await ended.then(
        () => undefined,
        () => undefined,
      );
    },
  };
}
