/**
 * What the Temporal Web UI tells of a workload, in words for a person: the workflow's static
 * summary and details (set by the client when it starts the workflow) and its current details
 * (set by the workflow at each transition; `driftless status` prints the same text). Pure: the
 * workflow and the CLI both use it. Never an env value: a spec's env can hold secrets.
 */
import { costSoFar, formatUsd, ratePerHour } from '../common/cost';
import { blockLabel, type Block } from '../placement/rank';
import { formatResources } from '../spec/describe';
import { formatRange } from '../spec/ranges';
import { recoveryLimits } from '../spec/recovery-defaults';
import type { WorkloadSpec } from '../spec/workload-spec';
import type { WorkloadStatus } from './types';

/** Timeline events the current details show. */
const LAST_EVENTS = 5;

/** An instance id short enough for a one-line summary: "l9a3f0c1…". */
export function shortId(id: string): string {
  return id.length > 10 ? `${id.slice(0, 8)}…` : id;
}

/** "23:13:05 UTC". */
export function clock(at: number | string): string {
  return `${new Date(at).toISOString().slice(11, 19)} UTC`;
}

/** "750ms", "4s", "2m", "2m30s", "1h", "1h5m". */
export function durationText(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  const m = Math.floor(s / 60);
  return `${Math.floor(m / 60)}h${m % 60 ? `${m % 60}m` : ''}`;
}

/** "1× A100", "2..4× A100|H100", "any GPU", "no GPU", "2 alternatives". */
export function gpuText(spec: WorkloadSpec): string {
  const r = spec.resources;
  const alternatives = r.anyOf?.length ?? r.ordered?.length;
  if (alternatives) return `${alternatives} alternatives`;
  if (!r.gpu) return 'no GPU';
  return `${formatRange(r.gpu.count)}× ${r.gpu.type ? r.gpu.type.join('|') : 'any GPU'}`;
}

function allowDenyText(v: { allow?: string[]; deny?: string[] } | undefined, any: string): string {
  if (!v) return any;
  const parts: string[] = [];
  if (v.allow) parts.push(v.allow.join(', '));
  if (v.deny) parts.push(`not ${v.deny.join(', ')}`);
  return parts.join('; ') || any;
}

/** The workflow's static summary: "web-1 · service · 1× A100 · aws, local". */
export function workloadSummary(spec: WorkloadSpec): string {
  const providers = allowDenyText(spec.placement.providers, 'any provider');
  return `${spec.name} · ${spec.kind} · ${gpuText(spec)} · ${providers}`;
}

/** The workflow's static details (markdown): resources, placement policy, health and recovery. */
export function workloadDetails(spec: WorkloadSpec): string {
  const p = spec.placement;
  const h = spec.health;
  const r = spec.recovery;
  const limits = recoveryLimits(r);
  const envCount = Object.keys(spec.env).length;
  const placement = [
    `providers ${allowDenyText(p.providers, 'any configured')}`,
    `regions ${allowDenyText(p.regions, 'any')}`,
    ...(p.zones ? [`zones ${allowDenyText(p.zones, 'any')}`] : []),
    `spot ${p.spot}`,
    ...(p.maxPricePerHour !== undefined ? [`at most $${p.maxPricePerHour}/h`] : []),
    ...(p.instanceType ? [`instance type ${p.instanceType}`] : []),
    ...(p.hedge > 1 ? [`hedge ${p.hedge} offers at once`] : []),
  ];
  const http = h.http
    ? `; HTTP GET ${h.http.path} every ${durationText(h.http.interval)}, ` +
      `unhealthy after ${h.http.failureThreshold} failures in a row`
    : '';
  const exitCodes = r.restartExitCodes.length
    ? `; exit codes ${r.restartExitCodes.join(', ')} always restart`
    : '';
  return [
    `**${spec.name}**, a ${spec.kind}${envCount ? ` (${envCount} env variables, values not shown)` : ''}`,
    '',
    `- **Resources**: ${formatResources(spec.resources)}`,
    `- **Placement**: ${placement.join('; ')}`,
    `- **Health**: agent heartbeat within ${durationText(h.heartbeatTimeout)}; ` +
      `startup grace ${durationText(h.startupGrace)}${http}`,
    `- **Recovery**: ${r.maxRestarts} restarts in place` +
      `${r.restartWindow !== undefined ? ` per ${durationText(r.restartWindow)}` : ''}, ` +
      `backoff ${durationText(r.backoff.initial)}..${durationText(r.backoff.max)}${exitCodes}; ` +
      `a failed location cools down ${durationText(r.cooldown)}; ` +
      `at most ${limits.maxStartFailures} failed starts in a row and ${limits.maxRecoveries} losses ` +
      `per ${durationText(limits.recoveryWindow)}; stop grace ${durationText(limits.stopGrace)}, ` +
      `drain ${durationText(r.drain)}`,
    ...(spec.budget ? [`- **Budget**: ${formatUsd(spec.budget.maxTotal)} in all`] : []),
  ].join('\n');
}

/** "local/lab-a until 23:13:05 UTC (losing an instance)". */
export function blockText(b: Block): string {
  return `${blockLabel(b)} until ${clock(b.until)} (${b.reason})`;
}

/** Escapes the dollar signs of a line that has more than one (the Web UI would read a formula). */
export function oneDollar(line: string): string {
  return (line.match(/\$/g) ?? []).length > 1 ? line.replace(/\$/g, '\\$') : line;
}

/** What the current details are made of besides the status. */
export interface DetailsContext {
  /** The time the details are written at (ms). */
  now: number;
  /** What the workflow waits for now, in words. */
  waiting?: string;
}

/** The first line: the phase, where it runs and since when. */
function headline(s: WorkloadStatus): string {
  const c = s.current;
  const since = s.phaseSince ?? c?.since;
  const where = c ? ` on ${c.provider}/${c.region}${c.zone !== c.region ? `/${c.zone}` : ''}` : '';
  return `**${s.phase}**${where}${since ? ` since ${clock(since)}` : ''}`;
}

/**
 * The workflow's current details (markdown): phase, where it runs and since when, $/h and cost
 * so far, blocks with their expiry, the last events and what it waits for.
 */
export function currentDetails(s: WorkloadStatus, o: DetailsContext): string {
  // A blank line before each list: the Web UI's markdown wants one.
  const lines = [headline(s), ''];
  const c = s.current;
  if (c) {
    const gpus = c.gpuType ? `, ${c.gpuCount}× ${c.gpuType}` : '';
    lines.push(`- instance ${c.instanceId} (${c.instanceType}${gpus}) since ${clock(c.since)}`);
    if (c.endpoint) lines.push(`- serving on ${c.endpoint}`);
  }
  if (s.cost && s.cost.instances > 0) {
    // One dollar sign an item: the Web UI reads two on one line as the ends of a formula.
    lines.push(`- rate ${formatUsd(ratePerHour(s.cost))}/h`);
    lines.push(`- cost so far ${formatUsd(costSoFar(s.cost, o.now))} (as of ${clock(o.now)})`);
  } else if (c) {
    lines.push(`- $${c.pricePerHour}/h`);
  }
  if (s.result) lines.push(`- result: ${oneDollar(s.result.message)}`);
  if (s.moving) lines.push(`- moving: ${s.moving.kind} to ${s.moving.to} (since ${clock(s.moving.since)})`);
  if (o.waiting && !s.result) lines.push(`- waiting on: ${o.waiting}`);
  const blocks = s.blocks.filter((b) => b.until > o.now);
  for (const b of blocks) lines.push(`- blocked: ${blockText(b)}`);
  lines.push(
    `- attempts ${s.attempts}, restarts ${s.restarts}` +
      `${c?.restartsHere ? ` (${c.restartsHere} in place on this instance)` : ''}, recoveries ${s.recoveries}` +
      `${s.runs ? `, run ${s.runs + 1}` : ''}`,
  );
  const last = s.timeline.slice(-LAST_EVENTS);
  if (last.length > 0) {
    lines.push('', '**Last events**', '');
    for (const e of last) lines.push(`- ${clock(e.at)} ${e.type}: ${oneDollar(e.message)}`);
  }
  return lines.join('\n');
}
