/**
 * Everything the GCP provider derives instead of remembering: the instance name and requestId of
 * a create (from the idempotency key, so a retried activity asks for the same instance), and
 * labels that keep GCE's rules whatever the values are.
 */
import { createHash } from 'node:crypto';

/** Label keys every instance carries from the moment it exists. */
export const GCP_LABELS = {
  owner: 'driftless-owner',
  namespace: 'driftless-namespace',
  installation: 'driftless-installation',
  workload: 'driftless-workload',
  workflowId: 'driftless-workflow-id',
  attempt: 'driftless-attempt',
} as const;

/** GCE's instance name rule (RFC 1035 label). */
export const INSTANCE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

function sha256(parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex');
}

/**
 * A label value GCE accepts (lower-case letters, digits, "_" and "-", at most 63 characters). A
 * value that had to change, or was too long, gets a hash of the original at its end, so two
 * different values never share a label; the exact value goes into the instance's metadata.
 */
export function labelValue(value: string): string {
  const clean = value.toLowerCase().replace(/[^a-z0-9_-]/g, '-');
  if (clean === value && value.length <= 63) return value;
  return `${clean.slice(0, 52)}-${sha256([value]).slice(0, 10)}`;
}

/**
 * The name of the instance a request creates: "driftless-<workload>-<hash>" where the hash covers
 * the idempotency key and everything that makes the request different (machine type, zone). It is
 * also the instance's id: the agent's task queue is `instance-<name>`.
 */
export function gceInstanceName(
  idempotencyKey: string,
  machineType: string,
  zone: string,
  workload: string,
): string {
  const slug = workload
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .slice(0, 30)
    .replace(/^-+|-+$/g, '');
  const hash = sha256([idempotencyKey, machineType, zone]).slice(0, 16);
  return slug ? `driftless-${slug}-${hash}` : `driftless-${hash}`;
}

/**
 * A requestId (a UUID, as GCE requires) derived from `parts`: GCE answers a repeated request
 * with the same requestId with the first one's operation instead of doing it again.
 */
export function gceRequestId(...parts: string[]): string {
  const h = sha256(parts).slice(0, 32).split('');
  h[12] = '5'; // version 5 (name-based, SHA)
  h[16] = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16); // RFC 4122 variant
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
}

/** The last path segment of a GCE URL ("https://.../zones/us-central1-a" -> "us-central1-a"). */
export function lastSegment(url: string | null | undefined): string {
  return (url ?? '').split('/').pop() ?? '';
}
