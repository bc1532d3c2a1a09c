import { formatRange } from './ranges';
import type { GpuRequest, Resources } from './workload-spec';

/** "H100|A100-80GB:8", "any:1..2", with ", 40GB.. each" when memory is asked for. */
export function formatGpuRequest(g: GpuRequest): string {
  const types = g.type ? g.type.join('|') : 'any';
  return `${types}:${formatRange(g.count)}${g.memory ? ` (${formatRange(g.memory, 'GB')} each)` : ''}`;
}

/** One line for people: "gpu H100:8, cpu 16.., memory 64GB..". */
export function formatResources(r: Resources): string {
  const parts: string[] = [];
  if (r.gpu) parts.push(`gpu ${formatGpuRequest(r.gpu)}`);
  if (r.cpu) parts.push(`cpu ${formatRange(r.cpu)}`);
  if (r.memory) parts.push(`memory ${formatRange(r.memory, 'GB')}`);
  if (r.disk) parts.push(`disk ${r.disk}GB`);
  if (r.anyOf) parts.push(`${r.anyOf.length} alternatives (any of)`);
  if (r.ordered) parts.push(`${r.ordered.length} alternatives (in order)`);
  return parts.join(', ') || 'no GPU';
}
