import {
  DEFAULT_TASK_QUEUE,
  instanceTaskQueue,
  workloadNameFromWorkflowId,
  workloadWorkflowId,
} from '../../src/common/names';

describe('workload workflow ids', () => {
  test('the workflow id of a workload is "workload-<name>"', () => {
    expect(workloadWorkflowId('train')).toBe('workload-train');
  });

  test.each(['train', 'a', 'llm-serve-2', 'workload', 'workload-x', '0'])(
    'workloadNameFromWorkflowId inverts workloadWorkflowId for %j',
    (name) => {
      expect(workloadNameFromWorkflowId(workloadWorkflowId(name))).toBe(name);
    },
  );

  test.each(['train', 'instance-abc', 'Workload-train', 'workloads-x', '', 'xworkload-a'])(
    'workloadNameFromWorkflowId returns undefined for %j, which is not a workload workflow id',
    (id) => {
      expect(workloadNameFromWorkflowId(id)).toBeUndefined();
    },
  );
});

describe('instanceTaskQueue', () => {
  test('names the agent task queue "instance-<id>"', () => {
    expect(instanceTaskQueue('local-7f3a')).toBe('instance-local-7f3a');
  });

  test('gives different instances different queues, none equal to the worker queue', () => {
    const queues = ['a', 'b', DEFAULT_TASK_QUEUE].map(instanceTaskQueue);
    expect(new Set(queues).size).toBe(3);
    expect(queues).not.toContain(DEFAULT_TASK_QUEUE);
  });
});
