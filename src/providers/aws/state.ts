/**
 * EC2 instance states onto the provider's small state set. Pure, so the mapping is tested from
 * recorded DescribeInstances shapes (moto cannot interrupt a spot instance).
 */
import type { Instance as Ec2Instance } from '@aws-sdk/client-ec2';
import type { InstanceState } from '../types';

/**
 * `StateReason` codes that mean EC2 took the instance away rather than anyone asking for it:
 * a spot interruption, or a launch the zone could not complete.
 */
export const PROVIDER_ENDED_REASONS: ReadonlySet<string> = new Set([
  'Server.SpotInstanceTermination',
  'Server.SpotInstanceShutdown',
  'Server.InsufficientInstanceCapacity',
  'Server.InternalError',
]);

/** The fields of a described instance that decide its state. */
export type Ec2StateFields = Pick<Ec2Instance, 'State' | 'StateReason' | 'InstanceLifecycle'>;

/** True when EC2 itself ended or stopped the instance (spot interruption, failed launch). */
export function endedByProvider(i: Ec2StateFields): boolean {
  const reason = i.StateReason?.Code;
  return reason !== undefined && PROVIDER_ENDED_REASONS.has(reason);
}

/**
 * pending → pending; running → running; stopping/stopped → stopped; shutting-down/terminated →
 * terminated; and any of the last four → preempted when EC2 did it (spot interruption with
 * either interruption behaviour, or a launch that failed for capacity).
 */
export function instanceStateOf(i: Ec2StateFields): InstanceState {
  switch (i.State?.Name) {
    case 'pending':
      return 'pending';
    case 'running':
      return 'running';
    case 'stopping':
    case 'stopped':
      return endedByProvider(i) ? 'preempted' : 'stopped';
    case 'shutting-down':
    case 'terminated':
      return endedByProvider(i) ? 'preempted' : 'terminated';
    default:
      // An instance EC2 describes in a state it has not documented is still there.
      return 'pending';
  }
}
