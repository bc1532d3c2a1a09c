import type { Block } from '../placement/rank';
import { formatUsd } from '../common/cost';
import { blockLabel } from '../placement/rank';
import type { SpecProblem } from '../spec/load';
import type { TimelineEvent } from '../workflows/types';
import type { Plan } from './services/plan';
import type { WorkloadView } from './services/workloads';
import { formatResources } from '../spec/describe';
import type { WorkloadSpec } from '../spec/workload-spec';

const time = (iso: string | number) => new Date(iso).toISOString().slice(11, 19);

/** A plain left-aligned table; no colour, so it reads the same in a pipe. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '))
    .join('\n');
}

export function formatProblems(file: string, problems: SpecProblem[]): string {
  return problems.map((p) => `${file}: ${p.path}: ${p.message}`).join('\n');
}

export function formatTimeline(events: TimelineEvent[]): string {
  return table(events.map((e) => [time(e.at), e.type, e.message]));
}

export function formatBlocks(blocks: Block[]): string {
  return blocks.map((b) => `${blockLabel(b)} until ${time(b.until)} (${b.reason})`).join('\n');
}

/**
 * `status`: a head line, then the workflow's current details exactly as the Web UI shows them,
 * the cost priced to this moment, and the whole timeline. Without details (no worker answered),
 * what Temporal recorded.
 */
export function formatStatus(v: WorkloadView): string {
  const s = v.status;
  const head =
    `${v.name}  ${s?.kind ?? ''}  ${v.phase}  (workflow ${v.workflowId}: ${v.workflowStatus})`.replace(
      / {3,}/g,
      '  ',
    );
  if (v.details === undefined || !s) return formatRecorded(head, v);
  const lines = [head, v.details, ''];
  if (v.costUsd !== undefined) lines.push(costLine(v));
  lines.push(...limitLines(s));
  if (s.timeline.length) lines.push('timeline:', ...indent(formatTimeline(s.timeline)));
  if (v.failure) lines.push(`failure: ${v.failure}`);
  return lines.join('\n');
}

const indent = (text: string, by = '  ') => text.split('\n').map((l) => `${by}${l}`);

/** "  cost so far $1.23  now $2.00/h  budget ...", priced to this moment. */
function costLine(v: WorkloadView): string {
  const rate = v.ratePerHour ? `  now ${formatUsd(v.ratePerHour)}/h` : '';
  const budget = v.status?.result === undefined ? budgetLine(v) : '';
  return `  cost so far ${formatUsd(v.costUsd ?? 0)}${rate}${budget}`;
}

/** Against recovery.maxStartFailures and maxRecoveries (within recoveryWindow). */
function limitLines(s: NonNullable<WorkloadView['status']>): string[] {
  const failedStarts = s.failedStarts?.length ?? 0;
  const losses = s.recentLosses?.length ?? 0;
  return failedStarts || losses ? [`  failed starts in a row ${failedStarts}  recent losses ${losses}`] : [];
}

/** The status without current details: an older view, or what Temporal recorded. */
function formatRecorded(head: string, v: WorkloadView): string {
  const lines = [head];
  const s = v.status;
  if (v.instanceId) {
    const where = v.pool ? `pool ${v.pool}` : `${v.region}/${v.zone}`;
    const price = v.pricePerHour !== undefined ? `  $${v.pricePerHour}/h` : '';
    lines.push(`  on ${v.provider} ${where}  instance ${v.instanceId}  ${v.instanceType ?? ''}${price}`);
    if (v.endpoint) lines.push(`  serving on ${v.endpoint}`);
  } else if (v.provider) {
    lines.push(`  last on ${v.provider} ${v.pool ? `pool ${v.pool}` : v.region}`);
  }
  if (v.costUsd !== undefined) lines.push(costLine(v));
  if (s) {
    const here = s.current?.restartsHere ? ` (${s.current.restartsHere} in place on this instance)` : '';
    lines.push(`  attempts ${s.attempts}  restarts ${s.restarts}${here}  recoveries ${s.recoveries}`);
    lines.push(...limitLines(s));
    if (s.blocks.length) lines.push('  blocked:', ...indent(formatBlocks(s.blocks), '    '));
    if (s.timeline.length) lines.push('timeline:', ...indent(formatTimeline(s.timeline)));
  } else {
    lines.push('  (no worker answered the status query: showing what Temporal recorded)');
  }
  if (v.failure) lines.push(`failure: ${v.failure}`);
  return lines.join('\n');
}

export function formatList(views: WorkloadView[]): string {
  if (views.length === 0) return 'no workloads';
  return table([
    ['NAME', 'WORKFLOW', 'PHASE', 'PROVIDER', 'POOL/REGION', '$/H', 'COST'],
    ...views.map((v) => [
      v.name,
      v.workflowStatus,
      v.phase,
      v.provider ?? '-',
      v.pool ?? v.region ?? '-',
      v.pricePerHour !== undefined ? String(v.pricePerHour) : '-',
      v.costUsd !== undefined ? formatUsd(v.costUsd) : '-',
    ]),
  ]);
}

/** "  budget $50.00 ($12.00 left)", for a workload whose spec has one. */
function budgetLine(v: WorkloadView): string {
  const max = v.budgetUsd;
  if (max === undefined || v.costUsd === undefined) return '';
  return `  budget ${formatUsd(max)} (${formatUsd(Math.max(0, max - v.costUsd))} left)`;
}

/** The plan `apply` prints before it starts: the chosen offer, the next few, the rest counted. */
export function formatPlan(spec: WorkloadSpec, plan: Plan): string {
  const lines = [`plan for ${spec.name} (${formatResources(spec.resources)}):`];
  plan.candidates.forEach((c, i) =>
    lines.push(`  ${i + 1}. ${c.offer}  $${c.pricePerHour}/h${i === 0 ? '  <- first choice' : ''}`),
  );
  if (plan.fits > plan.candidates.length)
    lines.push(`  ... ${plan.fits - plan.candidates.length} more that fit`);
  if (plan.fits === 0) lines.push('  no configured offer fits now: the workload will wait for one');
  lines.push(`  ${plan.passedOver} offers passed over (see why: driftless offers FILE --explain)`);
  for (const e of plan.errors) lines.push(`  provider did not answer: ${e}`);
  if (plan.prices) lines.push(`  ${plan.prices}`);
  lines.push(...plan.catalogWarnings);
  return lines.join('\n');
}
