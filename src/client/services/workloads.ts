import { createHash } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateStage,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import {
  FailureType,
  SEARCH_ATTRIBUTES,
  WORKLOAD_WORKFLOW_TYPE,
  workloadNameFromWorkflowId,
  workloadWorkflowId,
} from '../../common/names';
import { costSoFar, ratePerHour } from '../../common/cost';
import { sleep } from '../../common/sleep';
import type { Config } from '../../config/config';
import type { WorkloadSpec } from '../../spec/workload-spec';
import {
  applyUpdate,
  migrateUpdate,
  statusQuery,
  stopSignal,
  type ApplyResult,
  type MigrateRequest,
  type MigrateResult,
} from '../../workflows/messages';
import type { workloadWorkflow } from '../../workflows';
import { currentDetails, workloadDetails, workloadSummary } from '../../workflows/details';
import type { Phase, WorkloadStatus } from '../../workflows/types';
import { regionsArePools } from '../../providers/registry';
import { CliError, ExitCode } from '../errors';
import { listRuns } from './list-runs';

/** Status queries `ls` makes at once for the running workloads' costs. */
const LIST_QUERIES_AT_ONCE = 16;

/** What `status --json` prints: the workflow's own view plus where it runs, flattened. */
export interface WorkloadView {
  name: string;
  workflowId: string;
  runId: string;
  /** Temporal's status of the workflow: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, ... */
  workflowStatus: string;
  phase: Phase | 'UNKNOWN';
  provider?: string;
  /** For the local provider, the pool; elsewhere the region. */
  pool?: string;
  region?: string;
  zone?: string;
  instanceId?: string;
  instanceType?: string;
  pricePerHour?: number;
  /** What its instances cost per hour now (all of them: a draining or booting one too). */
  ratePerHour?: number;
  /** US dollars its instances have cost so far (src/common/cost.ts). */
  costUsd?: number;
  /** The spec's budget.maxTotal, when it has one. */
  budgetUsd?: number;
  /** Where an HTTP workload serves ("address:port"). */
  endpoint?: string;
  /**
   * The workflow's current details (markdown), the text the Temporal Web UI shows; from a
   * worker older than them, made here from its status.
   */
  details?: string;
  /** Set when the workflow failed: the failure's message. */
  failure?: string;
  /** The workflow's full status (absent when no worker could answer the query). */
  status?: WorkloadStatus;
}

export function specHash(spec: WorkloadSpec): string {
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
}

/** The error for a workload name the namespace does not know (or knows no running one of). */
function noSuchWorkload(name: string, which: '' | 'running ' = ''): CliError {
  return new CliError(
    `no ${which}workload named ${name}`,
    ExitCode.Usage,
    'list workloads with `driftless ls`',
  );
}

export class WorkloadService {
  constructor(
    private readonly client: Client,
    private readonly config: Config,
  ) {}

  private handle(name: string) {
    return this.client.workflow.getHandle<typeof workloadWorkflow>(workloadWorkflowId(name));
  }

  /** Whether the namespace has the Driftless* search attributes (the dev server registers them). */
  async hasSearchAttributes(): Promise<{ searchAttributes: boolean; costAttribute: boolean }> {
    try {
      const res = await this.client.connection.operatorService.listSearchAttributes({
        namespace: this.config.temporal.namespace,
      });
      const has = (a: { name: string }) => a.name in (res.customAttributes ?? {});
      // DriftlessCost came later: a namespace registered before it still gets the other five.
      const { cost, ...base } = SEARCH_ATTRIBUTES;
      const searchAttributes = Object.values(base).every(has);
      return { searchAttributes, costAttribute: searchAttributes && has(cost) };
    } catch {
      return { searchAttributes: false, costAttribute: false };
    }
  }

  /**
   * Starts the workload's workflow. A workload of that name already running gets the spec as an
   * update: the same spec changes nothing ("unchanged"); another one re-places it ("updated",
   * make-before-break for services), and this waits until it has.
   */
  async apply(spec: WorkloadSpec): Promise<{
    outcome: 'started' | 'unchanged' | 'updated';
    workflowId: string;
    runId: string;
    update?: ApplyResult;
  }> {
    const workflowId = workloadWorkflowId(spec.name);
    const hash = specHash(spec);
    try {
      const handle = await this.client.workflow.start<typeof workloadWorkflow>(WORKLOAD_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: this.config.temporal.taskQueue,
        args: [{ spec, specHash: hash, ...(await this.hasSearchAttributes()) }],
        memo: { name: spec.name, kind: spec.kind, specHash: hash },
        // What the Web UI shows of the workload (no env values: they can be secrets).
        staticSummary: workloadSummary(spec),
        staticDetails: workloadDetails(spec),
      });
      return { outcome: 'started', workflowId, runId: handle.firstExecutionRunId };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      const handle = this.handle(spec.name);
      const desc = await handle.describe();
      const update = await this.update(spec.name, () =>
        handle.executeUpdate(applyUpdate, { args: [{ spec, specHash: hash }] }),
      );
      return { outcome: update.changed ? 'updated' : 'unchanged', workflowId, runId: desc.runId, update };
    }
  }

  /**
   * Moves a running workload (make-before-break for services). With `wait: false`, returns once
   * the workflow has accepted the request (its validator passed).
   */
  async migrate(name: string, req: MigrateRequest, wait: boolean): Promise<MigrateResult | undefined> {
    const handle = this.handle(name);
    return this.update(name, async () => {
      if (wait) return handle.executeUpdate(migrateUpdate, { args: [req] });
      await handle.startUpdate(migrateUpdate, { args: [req], waitForStage: WorkflowUpdateStage.ACCEPTED });
      return undefined;
    });
  }

  /** Runs an update call, turning its refusals into errors for people. */
  private async update<T>(name: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw noSuchWorkload(name, 'running ');
      if (err instanceof WorkflowUpdateFailedError) {
        const cause = err.cause as (Error & { type?: string }) | undefined;
        const message = cause?.message ?? err.message;
        // Refused by the validator (nothing changed) is the caller's to fix; a failed move is not.
        throw cause?.type === FailureType.MigrationFailed
          ? new CliError(message, ExitCode.Failed)
          : new CliError(`refused: ${message}`, ExitCode.Usage);
      }
      throw err;
    }
  }

  private async queryStatus(name: string, timeoutMs = 5000): Promise<WorkloadStatus | undefined> {
    try {
      return await this.client.connection.withDeadline(Date.now() + timeoutMs, () =>
        this.handle(name).query(statusQuery),
      );
    } catch {
      return undefined;
    }
  }

  async status(name: string): Promise<WorkloadView> {
    let desc: WorkflowExecutionDescription;
    try {
      // A deadline of its own: a server restarting under a wait must not hold one look past it.
      desc = await this.client.connection.withDeadline(Date.now() + 10_000, () =>
        this.handle(name).describe(),
      );
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw noSuchWorkload(name);
      throw err;
    }
    const status = await this.queryStatus(name);
    const sa = desc.searchAttributes as Record<string, unknown[] | undefined>;
    const c = status?.current;
    let failure: string | undefined;
    if (desc.status.name === 'FAILED') {
      try {
        await this.handle(name).result();
      } catch (err) {
        failure = err instanceof WorkflowFailedError ? (err.cause?.message ?? err.message) : String(err);
      }
    }
    const provider = c?.provider ?? (sa[SEARCH_ATTRIBUTES.provider.name]?.[0] as string | undefined);
    const region = c?.region ?? (sa[SEARCH_ATTRIBUTES.region.name]?.[0] as string | undefined);
    return {
      name,
      workflowId: desc.workflowId,
      runId: desc.runId,
      workflowStatus: desc.status.name,
      phase: status?.phase ?? (sa[SEARCH_ATTRIBUTES.phase.name]?.[0] as Phase | undefined) ?? 'UNKNOWN',
      provider,
      pool: regionsArePools(provider) ? region : undefined,
      region,
      zone: c?.zone,
      instanceId: c?.instanceId,
      instanceType: c?.instanceType,
      pricePerHour: c?.pricePerHour,
      ...costOf(status, sa),
      endpoint: c?.endpoint,
      details: status ? (status.details ?? currentDetails(status, { now: Date.now() })) : undefined,
      failure,
      status,
    };
  }

  /** Every workload this namespace knows, newest run of each name. */
  async list(): Promise<WorkloadView[]> {
    const seen = new Map<string, WorkloadView>();
    // Search attributes only: a memo encrypted with a key this CLI lacks does not fail the list.
    for await (const wf of listRuns(this.client, `WorkflowType = '${WORKLOAD_WORKFLOW_TYPE}'`)) {
      const name = workloadNameFromWorkflowId(wf.workflowId);
      if (!name || seen.has(name)) continue;
      const sa = wf.searchAttributes as Record<string, unknown[] | undefined>;
      const provider = sa[SEARCH_ATTRIBUTES.provider.name]?.[0] as string | undefined;
      const region = sa[SEARCH_ATTRIBUTES.region.name]?.[0] as string | undefined;
      seen.set(name, {
        name,
        workflowId: wf.workflowId,
        runId: wf.runId,
        workflowStatus: wf.status.name,
        phase: (sa[SEARCH_ATTRIBUTES.phase.name]?.[0] as Phase | undefined) ?? 'UNKNOWN',
        provider,
        pool: regionsArePools(provider) ? region : undefined,
        region,
        pricePerHour: sa[SEARCH_ATTRIBUTES.pricePerHour.name]?.[0] as number | undefined,
        ...costOf(undefined, sa),
      });
    }
    const views = [...seen.values()].sort((a, b) => a.name.localeCompare(b.name));
    // A running workload's cost grows between transitions: ask its ledger (a few at a time).
    const running = views.filter((v) => v.workflowStatus === 'RUNNING');
    for (let i = 0; i < running.length; i += LIST_QUERIES_AT_ONCE) {
      await Promise.all(
        running.slice(i, i + LIST_QUERIES_AT_ONCE).map(async (v) => {
          const st = await this.queryStatus(v.name, 3000);
          if (st) Object.assign(v, costOf(st, {}));
        }),
      );
    }
    return views;
  }

  async stop(name: string, reason = 'stopped from the CLI'): Promise<void> {
    try {
      await this.handle(name).signal(stopSignal, { reason });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw noSuchWorkload(name, 'running ');
      throw err;
    }
  }

  /**
   * Polls the workload's view until `done` says so or `timeoutMs` passes. A failed poll (a
   * slow or restarting server) is retried until the deadline, not fatal; "no such workload"
   * and the like are. `onView` sees every view polled (progress for people).
   */
  async waitUntil(
    name: string,
    done: (v: WorkloadView) => boolean,
    timeoutMs: number,
    what: string,
    onView?: (v: WorkloadView) => void,
  ): Promise<WorkloadView> {
    const deadline = Date.now() + timeoutMs;
    let last: WorkloadView | undefined;
    let lastError: unknown;
    for (;;) {
      try {
        last = await this.status(name);
        onView?.(last);
        if (done(last)) return last;
      } catch (err) {
        if (err instanceof CliError) throw err;
        lastError = err;
      }
      if (Date.now() > deadline) {
        const seen = last ? ` (phase ${last.phase})` : lastError ? ` (${(lastError as Error).message})` : '';
        throw new CliError(
          `workload ${name} did not ${what} within ${timeoutMs / 1000}s${seen}`,
          ExitCode.Failed,
          `see the timeline: driftless status ${name}`,
        );
      }
      await sleep(250);
    }
  }

  /** Waits for the workflow to close; returns its final view. */
  waitClosed(name: string, timeoutMs: number, onView?: (v: WorkloadView) => void): Promise<WorkloadView> {
    return this.waitUntil(name, (v) => v.workflowStatus !== 'RUNNING', timeoutMs, 'finish', onView);
  }

  /** Waits until the workload reaches one of `phases` (or its workflow closes). */
  waitPhase(
    name: string,
    phases: Phase[],
    timeoutMs: number,
    onView?: (v: WorkloadView) => void,
  ): Promise<WorkloadView> {
    return this.waitUntil(
      name,
      (v) => phases.includes(v.phase as Phase) || v.workflowStatus !== 'RUNNING',
      timeoutMs,
      `reach ${phases.join('/')}`,
      onView,
    );
  }
}

/**
 * Cost so far and the current rate: from the workflow's ledger when its status answered (priced
 * to this moment), else the DriftlessCost search attribute (as of its last transition).
 */
export function costOf(
  status: WorkloadStatus | undefined,
  sa: Record<string, unknown[] | undefined>,
  nowMs = Date.now(),
): Pick<WorkloadView, 'costUsd' | 'ratePerHour' | 'budgetUsd'> {
  const budget = status?.budgetUsd !== undefined ? { budgetUsd: status.budgetUsd } : {};
  if (status?.cost) {
    return { costUsd: costSoFar(status.cost, nowMs), ratePerHour: ratePerHour(status.cost), ...budget };
  }
  const stored = sa[SEARCH_ATTRIBUTES.cost.name]?.[0];
  return typeof stored === 'number' ? { costUsd: stored, ...budget } : budget;
}
