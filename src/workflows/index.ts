export { workloadWorkflow } from './workload';
export { reconcileWorkflow } from './reconcile';
