/** How an EC2 instance carries its owner marks, and how a launch is made idempotent. */
import { createHash } from 'node:crypto';
import type { Instance as Ec2Instance, Tag } from '@aws-sdk/client-ec2';
import type { InstanceOwner } from '../types';

/** Tag keys every instance and its volumes carry from the moment they exist. */
export const AWS_TAGS = {
  owner: 'driftless:owner',
  namespace: 'driftless:namespace',
  installation: 'driftless:installation',
  workload: 'driftless:workload',
  workflowId: 'driftless:workflow-id',
  attempt: 'driftless:attempt',
  /**
   * The launch's ClientToken (from the idempotency key: workflow, execution, attempt, type,
   * zone): a retry adopts only an instance of its own request, never one an earlier execution
   * of the same workflow id left with the same attempt number.
   */
  request: 'driftless:request',
} as const;

/**
 * The ClientToken of a launch: a SHA-256 (64 hex characters, EC2's limit) over the idempotency
 * key and everything that makes the request different, so a retry gets the same instance and a
 * different request never collides with it (IdempotentParameterMismatch).
 */
export function awsClientToken(idempotencyKey: string, instanceType: string, zone: string): string {
  return createHash('sha256').update([idempotencyKey, instanceType, zone].join('\0')).digest('hex');
}

/** The tags of a launch: the owner marks, the request's token and a readable Name. */
export function launchTags(labels: InstanceOwner, clientToken: string): Tag[] {
  return [
    { Key: AWS_TAGS.owner, Value: labels.owner },
    { Key: AWS_TAGS.namespace, Value: labels.namespace },
    { Key: AWS_TAGS.installation, Value: labels.installation },
    { Key: AWS_TAGS.workload, Value: labels.workload },
    { Key: AWS_TAGS.workflowId, Value: labels.workflowId },
    { Key: AWS_TAGS.attempt, Value: String(labels.attempt) },
    { Key: AWS_TAGS.request, Value: clientToken },
    { Key: 'Name', Value: `driftless-${labels.workload}-${labels.attempt}` },
  ];
}

function tagValue(tags: Tag[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}

/** The owner marks an instance carries, as far as its tags tell. */
export function ownerOfTags(tags: Tag[] | undefined): Partial<InstanceOwner> {
  const attempt = Number(tagValue(tags, AWS_TAGS.attempt));
  return {
    owner: tagValue(tags, AWS_TAGS.owner),
    namespace: tagValue(tags, AWS_TAGS.namespace),
    installation: tagValue(tags, AWS_TAGS.installation),
    workload: tagValue(tags, AWS_TAGS.workload),
    workflowId: tagValue(tags, AWS_TAGS.workflowId),
    attempt: Number.isInteger(attempt) ? attempt : undefined,
  };
}

/** Every instance of a DescribeInstances answer. */
export function instancesOf(res: { Reservations?: Array<{ Instances?: Ec2Instance[] }> }): Ec2Instance[] {
  return (res.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}
