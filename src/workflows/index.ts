export { workloadWorkflow } from './workload';
