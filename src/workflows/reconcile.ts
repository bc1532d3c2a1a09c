import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ControlActivities } from '../activities';
import type { ReconcileActivities } from '../activities/reconcile';
import { decide } from '../reconcile/decide';
import { isOfInstallation, type Installation } from '../common/installation';
import type { InstanceRef } from '../providers/types';
import { shortId } from './details';

export interface ReconcileInput {
  /** Unclaimed instances younger than this are left alone. @default 300000 (5 minutes) */
  graceMs?: number;
  /** Report what would be terminated, terminate nothing. */
  dryRun?: boolean;
}

export interface ReconciledInstance extends InstanceRef {
  workflowId?: string;
  attempt?: number;
  reason: string;
  /** Set when its termination failed (the next reconcile tries again). */
  error?: string;
}

export interface ReconcileReport {
  at: string;
  dryRun: boolean;
  graceMs: number;
  /** Owned instances seen on all providers. */
  seen: number;
  kept: ReconciledInstance[];
  /** Terminated (or, in a dry run, to be terminated). */
  terminated: ReconciledInstance[];
  failed: ReconciledInstance[];
  /** Providers that could not list their instances: whatever they hold was not looked at. */
  providerErrors: string[];
  /** The installation that reconciled: only instances with its namespace and id are touched. */
  installation?: Installation;
}

export const DEFAULT_RECONCILE_GRACE_MS = 5 * 60_000;

const { listOwnedEverywhere, readClaims } = proxyActivities<ReconcileActivities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 5 },
});

// Bounded here: whatever is left is tried again by the next reconcile.
const { terminate } = proxyActivities<ControlActivities>({
  startToCloseTimeout: '2m',
  retry: { initialInterval: '1s', maximumInterval: '20s', maximumAttempts: 5 },
});

/**
 * Lists the instances this installation owns on every provider and terminates those that no
 * open workflow claims (after a grace period): nothing stays billed after a workflow was
 * terminated hard, a worker died mid-compensation, or a provider call was given up.
 */
export async function reconcileWorkflow(input: ReconcileInput = {}): Promise<ReconcileReport> {
  const graceMs = input.graceMs ?? DEFAULT_RECONCILE_GRACE_MS;
  const dryRun = input.dryRun ?? false;
  const { instances, providerErrors, installation } = await listOwnedEverywhere.executeWithOptions(
    { summary: 'list the instances this installation owns on every provider' },
    [],
  );
  // Another installation's workflow ids mean nothing in this namespace: not asked about. (A
  // listing from a worker of an older version names no installation: nothing is filtered.)
  const ours = installation ? instances.filter((i) => isOfInstallation(i.labels, installation)) : instances;
  const ids = [...new Set(ours.map((i) => i.labels?.workflowId).filter((x): x is string => !!x))];
  // A reconcile never claims anything itself; its own id cannot appear, but skip it to be sure.
  const asked = ids.filter((id) => id !== workflowInfo().workflowId);
  const claims = await readClaims.executeWithOptions(
    { summary: `ask ${asked.length} workflows what they claim` },
    [asked],
  );
  const verdicts = decide({ instances, claims, now: Date.now(), graceMs, installation });
  const entry = (v: (typeof verdicts)[number], error?: string): ReconciledInstance => ({
    provider: v.instance.provider,
    id: v.instance.id,
    region: v.instance.region,
    zone: v.instance.zone,
    workflowId: v.instance.labels?.workflowId,
    attempt: v.instance.labels?.attempt,
    reason: v.reason,
    ...(error ? { error } : {}),
  });
  const report: ReconcileReport = {
    at: new Date().toISOString(),
    dryRun,
    graceMs,
    seen: instances.length,
    kept: verdicts.filter((v) => v.action === 'keep').map((v) => entry(v)),
    terminated: [],
    failed: [],
    providerErrors,
    installation,
  };
  const doomed = verdicts.filter((v) => v.action === 'terminate');
  if (dryRun) {
    report.terminated = doomed.map((v) => entry(v));
    return report;
  }
  await Promise.all(
    doomed.map(async (v) => {
      const { labels: _labels, ...ref } = v.instance;
      try {
        await terminate.executeWithOptions({ summary: `terminate ${shortId(ref.id)} (${v.reason})` }, [ref]);
        report.terminated.push(entry(v));
      } catch (err) {
        report.failed.push(entry(v, (err as Error).message));
      }
    }),
  );
  return report;
}
