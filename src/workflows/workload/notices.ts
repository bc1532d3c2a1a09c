/**
 * Acting on a spot or maintenance notice: the machine goes in a minute or two, so the workload
 * moves now (a service make-before-break: the replacement serves before the old machine goes;
 * a job stops gracefully and starts elsewhere) instead of after the machine is gone. The zone
 * is blocked as a preemption would block it.
 */
import type { Notice } from '../../agent/notices';
import { requestMove } from './moves';
import { refOf, type WorkloadState } from './state';
import { supervise, type Supervision } from './supervise';

/** Records the notice, queues the move (unless one is under way) and supervises on meanwhile. */
export function actOnNotice(state: WorkloadState, notice: Notice): Supervision {
  const c = state.status.current!;
  const location = `${c.provider}/${c.region}`;
  state.event('notice', `${c.instanceId} on ${location}: ${notice.detail}; moving it now`, {
    instanceId: c.instanceId,
    location,
  });
  state.block(c, 'zone', notice.kind === 'maintenance' ? 'a maintenance notice' : 'a preemption notice');
  if (!state.pending && !state.stopped) {
    requestMove(state, { kind: 'migrate', reason: notice.detail });
  }
  return supervise(state, refOf(c), { notices: false });
}
