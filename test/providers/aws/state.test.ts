/**
 * State mapping from recorded DescribeInstances shapes. moto cannot interrupt a spot instance, so
 * the interruption cases are EC2's documented answers, as the SDK deserialises them.
 */
import type { Instance } from '@aws-sdk/client-ec2';
import { instanceStateOf } from '../../../src/providers/aws/state';

type Shape = Pick<Instance, 'State' | 'StateReason' | 'InstanceLifecycle'>;
const shape = (name: string, code: number, reason?: string, lifecycle?: 'spot'): Shape => ({
  State: { Name: name as NonNullable<Instance['State']>['Name'], Code: code },
  StateReason: reason ? { Code: reason, Message: `${reason}: recorded` } : undefined,
  InstanceLifecycle: lifecycle,
});

describe('instanceStateOf', () => {
  test.each<[string, Shape, string]>([
    ['pending', shape('pending', 0), 'pending'],
    ['running', shape('running', 16), 'running'],
    ['running spot', shape('running', 16, undefined, 'spot'), 'running'],
    ['stopping by the user', shape('stopping', 64, 'Client.UserInitiatedShutdown'), 'stopped'],
    ['stopped by the user', shape('stopped', 80, 'Client.UserInitiatedShutdown'), 'stopped'],
    ['shutting-down by the user', shape('shutting-down', 32, 'Client.UserInitiatedShutdown'), 'terminated'],
    ['terminated by the user', shape('terminated', 48, 'Client.UserInitiatedShutdown'), 'terminated'],
    [
      'terminated from inside (OS shutdown)',
      shape('terminated', 48, 'Client.InstanceInitiatedShutdown'),
      'terminated',
    ],
    ['terminated without a reason', shape('terminated', 48), 'terminated'],
  ])('%s maps to %s', (_label, s, expected) => {
    expect(instanceStateOf(s)).toBe(expected);
  });

  test.each<[string, Shape]>([
    ['spot terminated by an interruption', shape('terminated', 48, 'Server.SpotInstanceTermination', 'spot')],
    [
      'spot shutting down for an interruption',
      shape('shutting-down', 32, 'Server.SpotInstanceTermination', 'spot'),
    ],
    [
      'spot stopped by an interruption (stop behaviour)',
      shape('stopped', 80, 'Server.SpotInstanceShutdown', 'spot'),
    ],
    ['spot stopping for an interruption', shape('stopping', 64, 'Server.SpotInstanceShutdown', 'spot')],
    ['a launch the zone could not finish', shape('terminated', 48, 'Server.InsufficientInstanceCapacity')],
    ['an internal error during launch', shape('terminated', 48, 'Server.InternalError')],
  ])('%s is preempted', (_label, s) => {
    expect(instanceStateOf(s)).toBe('preempted');
  });

  test('an undocumented state counts as still there (pending), not gone', () => {
    expect(instanceStateOf(shape('rebooting', 99))).toBe('pending');
  });
});
