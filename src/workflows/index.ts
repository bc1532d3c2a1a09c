export { workloadWorkflow } from './workload/workflow';
export { reconcileWorkflow } from './reconcile';
export { watcherWorkflow } from './watcher';
export { readLogsWorkflow } from './logs';
