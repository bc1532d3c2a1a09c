/**
 * `driftless cost`: what workloads have cost, from the workflows' own records, so it survives
 * worker restarts and needs no billing API. A running workload's ledger is asked (priced to this
 * moment); an ended one's total is its DriftlessCost search attribute as of its last transition
 * (or, in a namespace without it, its ledger replayed by a worker).
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { costSoFar, ratePerHour } from '../../common/cost';
import {
  SEARCH_ATTRIBUTES,
  WORKLOAD_WORKFLOW_TYPE,
  workloadNameFromWorkflowId,
  workloadWorkflowId,
} from '../../common/names';
import { statusQuery } from '../../workflows/messages';
import type { WorkloadStatus } from '../../workflows/types';
import { listRuns } from './list-runs';

export interface CostRow {
  name: string;
  workflowId: string;
  runId: string;
  /** Temporal's status of the run: RUNNING, COMPLETED, FAILED, ... */
  workflowStatus: string;
  startedAt: string;
  closedAt?: string;
  /** US dollars so far (running) or in all (ended); absent when nothing recorded it. */
  costUsd?: number;
  /** What it costs per hour now (running ones). */
  ratePerHour?: number;
  budgetUsd?: number;
}

export interface CostReport {
  /** Runs that were running at some time since then (ISO), when --since was given. */
  since?: string;
  workloads: CostRow[];
  /** The sum of every known cost. */
  totalUsd: number;
  /** Rows without a recorded cost (workloads started before driftless kept one). */
  unknown: number;
}

const QUERY_TIMEOUT_MS = 5000;
const QUERIES_AT_ONCE = 16;

/** The visibility query for workload runs, of one name or all, active since `sinceMs`. */
export function costQuery(name?: string, sinceMs?: number): string {
  const parts = [`WorkflowType = '${WORKLOAD_WORKFLOW_TYPE}'`, `ExecutionStatus != 'ContinuedAsNew'`];
  if (name !== undefined) parts.push(`WorkflowId = '${workloadWorkflowId(name)}'`);
  if (sinceMs !== undefined) {
    parts.push(`(ExecutionStatus = 'Running' OR CloseTime >= '${new Date(sinceMs).toISOString()}')`);
  }
  return parts.join(' AND ');
}

export async function costReport(
  client: Client,
  o: { name?: string; sinceMs?: number; nowMs?: number } = {},
): Promise<CostReport> {
  const now = o.nowMs ?? Date.now();
  const runs: WorkflowExecutionInfo[] = [];
  // Search attributes only: a memo encrypted with a key this CLI lacks does not fail the report.
  for await (const wf of listRuns(client, costQuery(o.name, o.sinceMs))) runs.push(wf);
  const rows: CostRow[] = [];
  for (let i = 0; i < runs.length; i += QUERIES_AT_ONCE) {
    rows.push(...(await Promise.all(runs.slice(i, i + QUERIES_AT_ONCE).map((wf) => rowOf(client, wf, now)))));
  }
  rows.sort((a, b) => a.name.localeCompare(b.name) || a.startedAt.localeCompare(b.startedAt));
  return {
    ...(o.sinceMs !== undefined ? { since: new Date(o.sinceMs).toISOString() } : {}),
    workloads: rows,
    totalUsd: rows.reduce((sum, r) => sum + (r.costUsd ?? 0), 0),
    unknown: rows.filter((r) => r.costUsd === undefined).length,
  };
}

async function rowOf(client: Client, wf: WorkflowExecutionInfo, now: number): Promise<CostRow> {
  const row: CostRow = {
    name: workloadNameFromWorkflowId(wf.workflowId) ?? wf.workflowId,
    workflowId: wf.workflowId,
    runId: wf.runId,
    workflowStatus: wf.status.name,
    startedAt: wf.startTime.toISOString(),
    ...(wf.closeTime ? { closedAt: wf.closeTime.toISOString() } : {}),
  };
  const stored = (wf.searchAttributes as Record<string, unknown[] | undefined>)[
    SEARCH_ATTRIBUTES.cost.name
  ]?.[0];
  const running = wf.status.name === 'RUNNING';
  // An ended run's stored total is final; a running one's ledger is priced to now.
  if (!running && typeof stored === 'number') return { ...row, costUsd: stored };
  const status = await queryStatus(client, wf);
  if (status?.cost) {
    row.costUsd = costSoFar(status.cost, wf.closeTime?.getTime() ?? now);
    if (running) row.ratePerHour = ratePerHour(status.cost);
  } else if (typeof stored === 'number') {
    row.costUsd = stored;
  }
  if (status?.budgetUsd !== undefined) row.budgetUsd = status.budgetUsd;
  return row;
}

async function queryStatus(client: Client, wf: WorkflowExecutionInfo): Promise<WorkloadStatus | undefined> {
  try {
    return await client.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () =>
      client.workflow.getHandle(wf.workflowId, wf.runId).query(statusQuery),
    );
  } catch {
    return undefined;
  }
}
