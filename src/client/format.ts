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

export function formatStatus(v: WorkloadView): string {
  const lines: string[] = [];
  const s = v.status;
  lines.push(
    `${v.name}  ${s?.kind ?? ''}  ${v.phase}  (workflow ${v.workflowId}: ${v.workflowStatus})`.replace(
      / {3,}/g,
      '  ',
    ),
  );
  if (v.instanceId) {
    const where = v.pool ? `pool ${v.pool}` : `${v.region}/${v.zone}`;
    const price = v.pricePerHour !== undefined ? `  $${v.pricePerHour}/h` : '';
    lines.push(`  on ${v.provider} ${where}  instance ${v.instanceId}  ${v.instanceType ?? ''}${price}`);
    if (v.endpoint) lines.push(`  serving on ${v.endpoint}`);
  } else if (v.provider) {
    lines.push(`  last on ${v.provider} ${v.pool ? `pool ${v.pool}` : v.region}`);
  }
  if (v.costUsd !== undefined) {
    const rate = v.ratePerHour ? `  now ${formatUsd(v.ratePerHour)}/h` : '';
    const budget = s?.result === undefined ? budgetLine(v) : '';
    lines.push(`  cost so far ${formatUsd(v.costUsd)}${rate}${budget}`);
  }
  if (s) {
    const here = s.current?.restartsHere ? ` (${s.current.restartsHere} in place on this instance)` : '';
    lines.push(`  attempts ${s.attempts}  restarts ${s.restarts}${here}  recoveries ${s.recoveries}`);
    // Against recovery.maxStartFailures and maxRecoveries (within recoveryWindow).
    const failedStarts = s.failedStarts?.length ?? 0;
    const losses = s.recentLosses?.length ?? 0;
    if (failedStarts || losses)
      lines.push(`  failed starts in a row ${failedStarts}  recent losses ${losses}`);
    if (s.blocks.length)
      lines.push(
        '  blocked:',
        ...formatBlocks(s.blocks)
          .split('\n')
          .map((l) => `    ${l}`),
      );
    if (s.timeline.length) {
      lines.push(
        'timeline:',
        ...formatTimeline(s.timeline)
          .split('\n')
          .map((l) => `  ${l}`),
      );
    }
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
