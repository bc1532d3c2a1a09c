/**
 * The batched watch: one workflow per installation (its task queue) holds every instance the
 * workload workflows want watched, describes them all every `intervalMs` in one short activity
 * (one batched call per provider and region, see Provider.describeMany), and signals a workload
 * workflow only when its instance is gone: twice in a row, never on one answer, and never on a
 * call that failed. No activity slot is held per running workload, and a workflow with nothing
 * to report costs nothing between reports. Deterministic sandboxed code.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { ControlActivities } from '../activities';
import type { InstanceState } from '../providers/types';
import { durationText } from './details';
import { instanceStateSignal, watchedQuery, watchSignal, type WatchEntry } from './messages';

export interface WatcherInput {
  /** How often every watched instance is described. */
  intervalMs: number;
  /** Carried over by continue-as-new. */
  entries?: Array<WatchEntry & { misses?: number; unanswered?: number }>;
}

/** Answers in a row that say "gone" before an instance counts as lost. */
const THRESHOLD = 2;
/** A first "gone" is confirmed this soon rather than a whole interval later. */
const CONFIRM_MS = 1000;
/**
 * Rounds in a row without an answer for an instance (its provider is no longer configured, its
 * zone dropped) after which it is no longer watched; its workflow's agent heartbeats remain.
 */
const UNANSWERED_MAX = 60;
/** Events after which the watcher hands its list to a new run (history stays small). */
const EVENTS_PER_RUN = 1500;
const ALIVE: ReadonlySet<InstanceState> = new Set(['pending', 'running']);

const { describeBatch } = proxyActivities<ControlActivities>({
  startToCloseTimeout: '2m',
  retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 3 },
});

export async function watcherWorkflow(input: WatcherInput): Promise<void> {
  const entries = new Map<string, WatchEntry & { misses: number; unanswered: number }>();
  for (const e of input.entries ?? []) {
    entries.set(e.ref.id, { ...e, misses: e.misses ?? 0, unanswered: e.unanswered ?? 0 });
  }
  setHandler(watchSignal, (e) => {
    const had = entries.get(e.ref.id);
    // A watch again keeps the launch time the first one had (it sets AWS's visibility window).
    const ref = { ...e.ref, launchedAt: e.ref.launchedAt ?? had?.ref.launchedAt };
    entries.set(e.ref.id, { ref, workflowId: e.workflowId, misses: had?.misses ?? 0, unanswered: 0 });
  });
  setHandler(watchedQuery, () => [...entries.values()].map(({ ref, workflowId }) => ({ ref, workflowId })));
  for (;;) {
    // Nothing to watch: nothing runs, not even a timer.
    await condition(() => entries.size > 0);
    const watched = [...entries.values()];
    const summary = `describe ${watched.length} watched instance${watched.length > 1 ? 's' : ''}`;
    const refs = watched.map((e) => e.ref);
    const states = await describeBatch.executeWithOptions({ summary }, [{ refs }]).catch((err: Error) => {
      log.warn('describe failed; nothing counted', { error: err.message });
      return {} as Record<string, InstanceState>;
    });
    const gone: Array<WatchEntry & { state: InstanceState }> = [];
    for (const e of watched) {
      const state = states[e.ref.id];
      if (entries.get(e.ref.id) !== e) continue; // re-watched meanwhile
      if (state === undefined) {
        if (++e.unanswered >= UNANSWERED_MAX) entries.delete(e.ref.id);
        continue;
      }
      e.unanswered = 0;
      if (ALIVE.has(state)) e.misses = 0;
      else if (++e.misses >= THRESHOLD) {
        entries.delete(e.ref.id);
        gone.push({ ...e, state });
      }
    }
    // A workflow that has closed meanwhile cannot be told, and need not be.
    await Promise.all(
      gone.map((g) =>
        getExternalWorkflowHandle(g.workflowId)
          .signal(instanceStateSignal, { instanceId: g.ref.id, state: g.state })
          .catch(() => undefined),
      ),
    );
    if (workflowInfo().historyLength > EVENTS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof watcherWorkflow>({
        intervalMs: input.intervalMs,
        entries: [...entries.values()],
      });
    }
    const confirming = [...entries.values()].filter((e) => e.misses > 0).length;
    const ms = confirming ? Math.min(CONFIRM_MS, input.intervalMs) : input.intervalMs;
    await sleep(ms, {
      summary: confirming
        ? `confirm ${confirming} instance${confirming > 1 ? 's' : ''} gone in ${durationText(ms)}`
        : `next describe in ${durationText(ms)}`,
    });
  }
}
