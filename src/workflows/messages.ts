import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { WorkloadStatus } from './types';

/** Stop the workload: terminate its instance and complete the workflow. */
export const stopSignal = defineSignal<[{ reason?: string }?]>('stop');

/** Phase, current placement, attempts and the timeline. */
export const statusQuery = defineQuery<WorkloadStatus>('status');
